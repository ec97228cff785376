"""Request limits of the HTTP app: body size and time, each answered with a clear JSON error.

A body larger than ``max_request_bytes`` is refused with 413 ``payload_too_large`` (at once when
``Content-Length`` says so, otherwise as soon as the streamed body passes the limit: the body is
read in full here, up to the limit, before the app sees it). A request
still unanswered after ``request_timeout_s`` is answered 504 ``request_timeout``; work already
running in a worker thread finishes in the background, but its answer is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from warehouse.errors import PayloadTooLarge, RequestTimeout, WarehouseError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


class RequestLimitsMiddleware:
    """Enforces the body size and time limits of every HTTP request."""

    def __init__(self, app: ASGIApp, *, max_request_bytes: int, request_timeout_s: float) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.request_timeout_s = request_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse oversized bodies, bound the time, and pass everything else on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_request_bytes:
            await _send_error(send, self._too_large(declared))
            return
        messages, size = await _read_body(receive, self.max_request_bytes)
        if messages is None:
            await _send_error(send, self._too_large(size))
            return
        started = False

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.request_timeout_s):  # in this task: no task per request, as wait_for makes
                await self.app(scope, replay, tracked_send)
        except TimeoutError:
            logger.warning("%s %s ran past %.1f s", scope.get("method"), scope.get("path"), self.request_timeout_s)
            if not started:
                await _send_error(send, RequestTimeout(f"the request took longer than {self.request_timeout_s:g} s"))

    def _too_large(self, size: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body has {size} bytes or more; the limit is {self.max_request_bytes}")


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message] | None, int]:
    """The request's body messages, or None with the size reached once the body passes ``limit``."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, size
        size += len(message.get("body", b""))
        if size > limit:
            return None, size
        if not message.get("more_body", False):
            return messages, size


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, error: WarehouseError) -> None:
    body = json.dumps(error.to_body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
