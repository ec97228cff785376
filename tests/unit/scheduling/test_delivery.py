"""Alert delivery to a real local webhook: outbox in the chunk's transaction, retries, backoff, exactly once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from scheduling.alerts import list_alerts
from scheduling.delivery import backoff_delay_s, deliver_due, list_deliveries
from scheduling.jobs import add_job, list_runs, run_job_now
from scheduling.specs import JobSpec
from tests.unit.scheduling.test_jobs_cli import invoke
from warehouse.db import as_utc
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

BACKOFF = {"backoff_initial_s": 10.0, "backoff_max_s": 1000.0}


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that answers 500 to the first ``failures`` attempts of each delivery."""

    url: str = ""
    failures: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, dict[str, object]] = field(default_factory=dict)
    accepted_count: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str, body: dict[str, object]) -> int:
        """Count the attempt; accept it (200) once its failures are used up."""
        with self.lock:
            self.attempts[key] += 1
            if self.attempts[key] <= self.failures:
                return 500
            self.accepted[key] = body
            self.accepted_count[key] += 1
            return 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver; shut down after the test."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            status = state.answer(self.headers["idempotency-key"], body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test asserts on the receiver's state."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def job(delivery: dict[str, object], *, min_level: str = "critical") -> JobSpec:
    """A fire-risk job that alerts at ``min_level`` and delivers as ``delivery`` says."""
    return JobSpec.model_validate(
        {
            "name": "nightly",
            "algorithm": "fire_risk",
            "cron": "0 2 * * *",
            "thresholds": {"min_level": min_level},
            "delivery": delivery,
        }
    )


def test_backoff_doubles_up_to_its_ceiling_with_jitter_in_the_upper_half() -> None:
    delays = [backoff_delay_s(n, initial_s=2.0, max_s=10.0, jitter=1.0) for n in range(1, 6)]
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_delay_s(3, initial_s=2.0, max_s=10.0, jitter=0.0) == 4.0


@pytest.mark.parametrize(
    ("delivery", "complaint"),
    [
        ({}, "webhook, a redis_stream"),
        ({"webhooks": ["ftp://host/x"]}, "http"),
        ({"webhooks": ["http://x"], "retry": 1}, "retry"),
    ],
)
def test_bad_delivery_specs_are_refused(delivery: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        job(delivery)


def test_a_redis_stream_without_a_redis_url_is_refused(settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="redis"):
        add_job(settings, job({"redis_stream": "fire:alerts"}))


def test_webhook_retries_with_backoff_and_accepts_each_alert_exactly_once(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.failures = 2
    add_job(settings, job({"webhooks": [receiver.url], "max_attempts": 5, **BACKOFF}))
    run_job_now(settings, "nightly")
    alerts = {alert.id: alert for alert in list_alerts(settings, job_name="nightly", limit=1000)}
    rows = list_deliveries(settings)
    assert alerts and sorted(row.alert_id for row in rows) == sorted(alerts)
    assert {(row.status, row.attempts, row.event) for row in rows} == {("pending", 0, "alert.opened")}

    moment = max(as_utc(row.created_at) for row in rows)
    for attempt, (shortest_s, longest_s) in enumerate([(5.0, 10.0), (10.0, 20.0)], start=1):
        report = deliver_due(settings, now=moment)
        assert (report.attempted, report.retrying, report.delivered) == (len(rows), len(rows), 0)
        rows = list_deliveries(settings)
        assert {(row.status, row.attempts) for row in rows} == {("pending", attempt)}
        assert all(row.last_error.startswith("HTTP 500") for row in rows)
        delays = [(as_utc(row.next_attempt_at) - moment).total_seconds() for row in rows]
        assert all(shortest_s <= delay <= longest_s for delay in delays), delays
        assert deliver_due(settings, now=moment).attempted == 0, "retried before its backoff ran out"
        moment = max(as_utc(row.next_attempt_at) for row in rows)

    assert deliver_due(settings, now=moment).delivered == len(rows)
    rows = list_deliveries(settings)
    assert {(row.status, row.attempts, row.last_error) for row in rows} == {("delivered", 3, "")}
    assert {as_utc(row.delivered_at) for row in rows if row.delivered_at} == {moment}
    assert receiver.accepted_count == Counter({f"alert-delivery-{row.id}": 1 for row in rows})
    assert sum(receiver.attempts.values()) == 3 * len(rows)
    body = receiver.accepted[f"alert-delivery-{rows[0].id}"]
    alert = alerts[rows[0].alert_id]
    assert body["event"] == "alert.opened" and body["attempt"] == 3
    assert body["alert"]["entity_id"] == alert.entity_id  # type: ignore[index]
    assert body["alert"]["reasons"] == [reason.model_dump() for reason in alert.reasons]  # type: ignore[index]
    assert deliver_due(settings, now=moment.replace(year=moment.year + 1)).attempted == 0


def test_a_delivery_that_keeps_failing_stops_at_max_attempts(settings: Settings, receiver: Receiver) -> None:
    receiver.failures = 100
    add_job(settings, job({"webhooks": [receiver.url], "max_attempts": 2, **BACKOFF}))
    run_job_now(settings, "nightly")
    count = len(list_deliveries(settings))
    code, output = invoke(settings, "alerts", "deliver")
    assert code == 0 and f"attempted {count}: delivered 0, retrying {count}, failed 0" in output
    moment = max(as_utc(row.next_attempt_at) for row in list_deliveries(settings))
    assert deliver_due(settings, now=moment).failed == count
    rows = list_deliveries(settings)
    assert {(row.status, row.attempts) for row in rows} == {("failed", 2)}
    assert deliver_due(settings, now=moment.replace(year=moment.year + 1)).attempted == 0
    assert not receiver.accepted


def test_outbox_rows_commit_with_the_chunk_or_not_at_all(
    settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scheduling.delivery
    from scheduling.executor import execute_run

    def crash(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError("crash inside the chunk's transaction")

    add_job(settings, job({"webhooks": [receiver.url]}, min_level="high"))
    with monkeypatch.context() as patch:
        patch.setattr(scheduling.delivery, "enqueue_deliveries", crash)
        with pytest.raises(RuntimeError, match="crash"):
            run_job_now(settings, "nightly")
    (failed,) = list_runs(settings, job_name="nightly")
    assert (failed.status, failed.rows_done) == ("failed", 0)
    assert list_alerts(settings) == [] and list_deliveries(settings) == []

    execute_run(settings, failed.id)
    alerts = list_alerts(settings, job_name="nightly", limit=1000)
    assert alerts and sorted(row.alert_id for row in list_deliveries(settings)) == sorted(a.id for a in alerts)

    run_job_now(settings, "nightly")
    events = Counter(row.event for row in list_deliveries(settings))
    assert events == Counter({"alert.opened": len(alerts), "alert.updated": len(alerts)})
