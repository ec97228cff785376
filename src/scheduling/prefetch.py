"""Reading ahead: a background thread produces the next items while the consumer works on the current one.

The batch executor reads feature chunks (DuckDB, Arrow, pandera) while ONNX Runtime scores the
previous chunk; both release the GIL for most of their work, so on two cores the read and the
scoring overlap. At most ``depth`` items wait in the queue, so memory stays bounded by the chunk
size. An error in the producer is raised in the consumer; a consumer that stops early stops the
producer, which then closes the source iterator in its own thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")

PUT_POLL_S = 0.1
"""How often a producer blocked on a full queue checks whether the consumer has gone."""


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _Done:
    pass


@dataclass(frozen=True)
class _Value(Generic[Item]):
    item: Item


def _put(buffer: queue.Queue[object], message: object, stop: threading.Event) -> bool:
    """Put ``message`` unless the consumer has stopped; whether it was put."""
    while not stop.is_set():
        try:
            buffer.put(message, timeout=PUT_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Iterator[Item], buffer: queue.Queue[object], stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(buffer, _Value(item), stop):
                return
        _put(buffer, _Done(), stop)
    except BaseException as error:
        _put(buffer, _Failed(error), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def prefetched(items: Iterator[Item], *, depth: int = 2) -> Iterator[Item]:
    """``items`` in order, produced by a background thread up to ``depth`` items ahead."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, buffer, stop), name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            message = buffer.get()
            if isinstance(message, _Done):
                return
            if isinstance(message, _Failed):
                raise message.error
            assert isinstance(message, _Value)
            yield message.item
    finally:
        stop.set()
        thread.join()
