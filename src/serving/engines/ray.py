"""The Ray engine: the warehouse app on Ray Serve, its models in multiplexed, batched replicas.

``warehouse serve --engine ray`` joins the cluster at ``settings.ray_address`` or starts a local Ray
whose files live in the data dir (``runtime/ray``, or a scratch dir where that path is too long
for Unix sockets; free ports, no dashboard), starts Serve's HTTP
proxy on the settings' host and port (0: a free one) with access logs off, and runs the deployments
of :mod:`serving.engines.ray_deployments`. On the way out it removes what it started and nothing
else: the application; Serve, if this engine started it; the local Ray, if it started it.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from serving.engines.base import ServingEngine
from warehouse.ray_runtime import ray_connection

if TYPE_CHECKING:
    from ray.serve import Application, Deployment

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

APP_NAME = "warehouse"
QUIET_LOGS = {"enable_access_log": False, "log_level": "WARNING"}
"""Serve's logging for the proxy, the controller and the replicas: no line per request."""


class RayEngine(ServingEngine):
    """The app as a Ray Serve application (``app_name`` at ``route_prefix``)."""

    def __init__(self, settings: Settings, *, app_name: str = APP_NAME, route_prefix: str = "/") -> None:
        super().__init__(settings)
        self.app_name = app_name
        self.route_prefix = route_prefix

    def serve(self, *, on_bound: Callable[[str], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then remove what was started and return."""
        stop = threading.Event()
        with self.running() as url:
            # Installed after ray.init, which sets a SIGTERM handler of its own.
            previous = {
                sig: signal.signal(sig, lambda _sig, _frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
            }
            try:
                if on_bound is not None:
                    on_bound(url)
                stop.wait()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        logger.info("Ray engine stopped")

    @contextmanager
    def running(self) -> Iterator[str]:
        """Deploy the application and yield its base URL; remove it (and what was started for it) after."""
        with warnings.catch_warnings():  # Ray's own config models use deprecated pydantic fields
            warnings.simplefilter("ignore", DeprecationWarning)
            from ray import serve

        logging.getLogger("ray.serve").setLevel(logging.WARNING)  # Serve logs each deployment step at INFO
        with ray_connection(self.settings):
            started_serve, port = _start_serve(self.settings)
            try:
                serve.run(
                    build_application(self.settings),
                    name=self.app_name,
                    route_prefix=self.route_prefix,
                    logging_config=QUIET_LOGS,
                )
                yield f"http://{self.settings.host}:{port}{self.route_prefix.rstrip('/')}"
            finally:
                if started_serve:
                    serve.shutdown()  # type: ignore[no-untyped-call]  # Ray leaves it unannotated
                else:
                    serve.delete(self.app_name)


def build_application(settings: Settings) -> Application:
    """The ingress bound to the model deployment, each with fractional CPUs and autoscaling from settings."""
    from serving.engines.ray_deployments import INGRESS, MODELS

    models = _configured(MODELS, settings).bind(settings)
    return _configured(INGRESS, settings).bind(settings, models)


def _configured(deployment: Deployment, settings: Settings) -> Deployment:
    return deployment.options(
        ray_actor_options={"num_cpus": settings.ray_replica_num_cpus},
        autoscaling_config={
            "min_replicas": settings.ray_min_replicas,
            "max_replicas": settings.ray_max_replicas,
            "target_ongoing_requests": settings.ray_target_ongoing_requests,
        },
        # Enough requests in flight per replica for full batches under load.
        max_ongoing_requests=2 * settings.ray_max_batch_size,
        logging_config=QUIET_LOGS,
    )


def _start_serve(settings: Settings) -> tuple[bool, int]:
    """Start Serve's HTTP proxy unless Serve already runs; answers (started here, proxy port)."""
    from ray import serve
    from ray.serve.context import _get_global_client  # no public call answers the running proxy's port

    client = _get_global_client(raise_if_no_controller_running=False)
    if client is not None:
        return False, int(client.http_config.port)
    port = settings.port or _free_port(settings.host)
    serve.start(http_options={"host": settings.host, "port": port}, logging_config=QUIET_LOGS)
    return True, port


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
