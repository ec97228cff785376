"""``GET /metrics``: the app's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.dependencies import MetricsDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(serving_metrics: MetricsDep) -> Response:
    """Request counts and latencies, model and feature-lookup latencies, errors by code, models loaded."""
    return Response(content=serving_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
