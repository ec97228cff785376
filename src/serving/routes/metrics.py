"""``GET /metrics``: the app's Prometheus metrics in the text exposition format (``metrics.read``:
admin or auditor; give the scraper an auditor key as its bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.dependencies import MetricsDep
from warehouse.auth import require
from warehouse.permissions import Permission

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    dependencies=[Depends(require(Permission.METRICS_READ))],
)
def metrics(serving_metrics: MetricsDep) -> Response:
    """Request counts and latencies, model and feature-lookup latencies, errors by code, models loaded."""
    return Response(content=serving_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
