"""Alert delivery to a real Redis stream under a unique key prefix, deleted afterwards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from scheduling.alerts import list_alerts
from scheduling.delivery import deliver_due, list_deliveries
from scheduling.jobs import add_job, run_job_now
from scheduling.specs import JobSpec
from tests.conftest import REDIS_URL
from warehouse.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def stream_key() -> Iterator[str]:
    """A stream key under a prefix unique to this test; every key under the prefix is deleted after."""
    import redis

    prefix = f"wh_test_{uuid.uuid4().hex[:12]}"
    yield f"{prefix}:alerts"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_alerts_are_appended_to_the_stream_once_each(settings: Settings, stream_key: str) -> None:
    import redis

    with_redis = settings.model_copy(update={"alert_redis_url": SecretStr(REDIS_URL)})
    spec = {"name": "nightly", "algorithm": "fire_risk", "cron": "0 2 * * *", "thresholds": {"min_level": "high"}}
    add_job(with_redis, JobSpec.model_validate({**spec, "delivery": {"redis_stream": stream_key}}))
    run_job_now(with_redis, "nightly")
    alerts = {alert.id: alert for alert in list_alerts(with_redis, job_name="nightly", limit=1000)}

    report = deliver_due(with_redis)
    assert (report.attempted, report.delivered) == (len(alerts), len(alerts)) and alerts
    assert deliver_due(with_redis).attempted == 0
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        entries = client.xrange(stream_key)
    finally:
        client.close()
    assert len(entries) == len(alerts)
    deliveries = {row.id: row for row in list_deliveries(with_redis)}
    assert {int(fields["delivery_id"]) for _id, fields in entries} == set(deliveries)
    for _entry_id, fields in entries:
        message = json.loads(fields["message"])
        alert = alerts[deliveries[int(fields["delivery_id"])].alert_id]
        assert (fields["event"], message["alert"]["entity_id"]) == ("alert.opened", alert.entity_id)
        assert message["alert"]["reasons"] == [reason.model_dump() for reason in alert.reasons]
