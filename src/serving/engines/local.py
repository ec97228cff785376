"""The local engine: one uvicorn process, ONNX Runtime in-process.

:func:`serve` blocks (``warehouse serve``); :func:`running_server` runs the same app in a background
thread for the demo and tests, binding port 0 unless told otherwise and yielding the real address.
:class:`LocalEngine` offers both behind the :class:`~serving.engines.base.ServingEngine` contract.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from serving.engines.base import ServingEngine

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import uvicorn

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)


def _config(settings: Settings, *, port: int) -> uvicorn.Config:
    import uvicorn

    from warehouse.api import create_app

    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


def serve(settings: Settings, *, on_bound: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted on the settings' host and port (0: a free one); ``on_bound`` gets the URL."""
    import uvicorn

    # Bind first, so that the real port is known (and reported) before the server starts.
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    port = sock.getsockname()[1]
    if on_bound is not None:
        on_bound(f"http://{settings.host}:{port}")
    server = uvicorn.Server(_config(settings, port=port))
    server.run(sockets=[sock])


@contextmanager
def running_server(settings: Settings, *, port: int = 0, startup_timeout_s: float = 60.0) -> Iterator[str]:
    """Run the app in a thread; yields its base URL (``http://host:port``) once it accepts."""
    import uvicorn

    server = uvicorn.Server(_config(settings, port=port))
    thread = threading.Thread(target=server.run, name="warehouse-local-engine", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the local engine did not start within {startup_timeout_s:.0f} s")
        time.sleep(0.02)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{settings.host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class LocalEngine(ServingEngine):
    """The app in this process under uvicorn."""

    def serve(self, *, on_bound: Callable[[str], None] | None = None) -> None:
        """Serve until interrupted (uvicorn handles SIGTERM and SIGINT)."""
        serve(self.settings, on_bound=on_bound)

    def running(self) -> AbstractContextManager[str]:
        """The app on a free port in a background thread (see :func:`running_server`)."""
        return running_server(self.settings)
