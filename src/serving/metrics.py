"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

Two apps in one process (tests, the Ray engine's replicas) each get their own
:class:`ServingMetrics`, so metric names never clash. :class:`MetricsMiddleware` counts every HTTP
request by route template and status, and errors by their machine-readable code; the scoring
paths time model inference per model and version and the online feature lookup, and the comparison
log of canary and shadow rollouts counts the rows it wrote and the jobs it dropped or failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from serving.repository import ModelRepository

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ERROR_BODY_LIMIT = 16_384
"""Error bodies up to this size are read for their code; larger ones count as ``unknown``."""


class ServingMetrics:
    """The metrics of one app and the registry that holds them."""

    def __init__(self, repository: ModelRepository | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "warehouse_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.request_latency = Histogram(
            "warehouse_http_request_duration_seconds", "HTTP request latency by route template.",
            ["route", "method"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "warehouse_http_errors", "Error answers by error code and status.", ["code", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.inference_latency = Histogram(
            "warehouse_model_inference_duration_seconds", "Model scoring time by model name and version.",
            ["model", "version"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.feature_lookup_latency = Histogram(
            "warehouse_feature_lookup_duration_seconds", "Online feature store lookup time by feature service.",
            ["feature_service"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.comparison_rows_logged = Counter(
            "warehouse_comparison_rows_logged", "Canary and shadow answers written to the comparison log.",
            ["model", "mode"], registry=self.registry,
        )  # fmt: skip
        self.comparison_jobs_dropped = Counter(
            "warehouse_comparison_jobs_dropped", "Canary and shadow jobs dropped because the log's queue was full.",
            ["model", "mode"], registry=self.registry,
        )  # fmt: skip
        self.comparison_jobs_failed = Counter(
            "warehouse_comparison_jobs_failed", "Canary and shadow jobs that failed (challenger or database error).",
            ["model", "mode"], registry=self.registry,
        )  # fmt: skip
        self.models_loaded = Gauge(
            "warehouse_models_loaded", "Model versions loaded in this server.", registry=self.registry
        )
        if repository is not None:
            self.models_loaded.set_function(lambda: len(repository.loaded()))

    @contextmanager
    def time_inference(self, model: str, version: str) -> Iterator[None]:
        """Time a model scoring call."""
        with self.inference_latency.labels(model=model, version=version).time():
            yield

    @contextmanager
    def time_feature_lookup(self, feature_service: str) -> Iterator[None]:
        """Time an online feature lookup."""
        with self.feature_lookup_latency.labels(feature_service=feature_service).time():
            yield

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request; reads the error code from JSON error bodies."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, observing its status and, for errors, its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        error_body = bytearray()

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < _ERROR_BODY_LIMIT:
                error_body.extend(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, observe)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.request_latency.labels(route=template, method=method).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route=template, method=method, status=str(status)).inc()
            if status >= 400:
                self.metrics.errors.labels(code=_error_code(bytes(error_body)), status=str(status)).inc()


def _error_code(body: bytes) -> str:
    """``code`` of ``{"error": {"code": ...}}``; ``protocol_error`` for the v2 string form; else ``unknown``."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return "unknown"
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return str(error["code"])
    return "protocol_error" if isinstance(error, str) else "unknown"
