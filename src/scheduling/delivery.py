"""Alert delivery: an outbox drained to webhooks (JSON over HTTP) and Redis streams.

:func:`enqueue_deliveries` writes one ``alert_deliveries`` row per alert event and target in the
transaction that commits the chunk (and the alert), so an alert is never lost to a crash between
scoring and sending. :func:`deliver_due` drains the rows that are due: it claims each row by bumping
its attempt count with a conditional UPDATE (two deliverers never send one attempt twice), sends
it, and records the outcome: ``delivered``, or the error and the next attempt after an exponential
backoff with jitter, or ``failed`` once ``max_attempts`` are used. Delivery is at least once: a
receiver deduplicates on the ``Idempotency-Key`` header (webhook) or the ``delivery_id`` field
(stream), which stays the same across the attempts of one delivery.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from scheduling.alerts import Alert
from scheduling.store import DeliveryRecord
from warehouse.db import open_metadata_db, utc_now
from warehouse.errors import ConfigurationError, WarehouseError

if TYPE_CHECKING:
    import httpx
    import redis
    from sqlalchemy.orm import Session

    from scheduling.alerts import AlertEvent
    from scheduling.specs import AlertDelivery
    from scheduling.store import AlertRecord
    from warehouse.db import MetadataDB
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 10.0
"""Longest wait for one webhook answer; a timeout counts as a failed attempt."""
CLAIM_LEASE_S = 300.0
"""How long a claimed attempt is left alone before another deliverer may retry it (a crashed sender)."""
STREAM_MAX_LENGTH = 100_000
"""Approximate cap on a Redis alert stream's length (XADD MAXLEN ~)."""
DEFAULT_BATCH = 500
"""Rows one drain sends at most."""

Jitter = Callable[[], float]
"""Uniform draws in [0, 1) that spread the retries of many failed deliveries."""


class DeliveryFailed(WarehouseError):
    """A webhook or stream did not accept a delivery (the attempt is retried later)."""

    status = 502
    code = "delivery_failed"


class DeliveryMessage(BaseModel):
    """What a webhook receives (JSON body) and a stream entry carries (``message`` field)."""

    delivery_id: int
    """Same on every attempt of one delivery: the receiver's deduplication key."""
    event: str
    job_name: str
    run_id: str
    attempt: int
    alert: Alert


class DeliveryView(BaseModel):
    """An outbox row as the CLI and tests read it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    job_name: str
    run_id: str
    event: str
    channel: str
    target: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime
    last_error: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class DeliveryReport(BaseModel):
    """What one drain of the outbox did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    """Deliveries that used their last attempt in this drain."""


def enqueue_deliveries(
    session: Session, delivery: AlertDelivery, alerts: list[tuple[AlertEvent, AlertRecord]], *, run_id: str
) -> int:
    """Add an outbox row per alert event and target to the caller's transaction; returns how many."""
    targets = [("webhook", url) for url in delivery.webhooks]
    if delivery.redis_stream is not None:
        targets.append(("redis_stream", delivery.redis_stream))
    now = utc_now()
    for event, alert in alerts:
        payload = Alert.model_validate(alert).model_dump_json()
        for channel, target in targets:
            session.add(
                DeliveryRecord(
                    alert_id=alert.id,
                    job_name=alert.job_name,
                    run_id=run_id,
                    event=event,
                    channel=channel,
                    target=target,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    max_attempts=delivery.max_attempts,
                    backoff_initial_s=delivery.backoff_initial_s,
                    backoff_max_s=delivery.backoff_max_s,
                    next_attempt_at=now,
                    last_error="",
                    created_at=now,
                )
            )
    return len(alerts) * len(targets)


def backoff_delay_s(attempts: int, *, initial_s: float, max_s: float, jitter: float) -> float:
    """Delay after ``attempts`` failed attempts: ``d = min(max_s, initial_s * 2**(attempts-1))``, in [d/2, d]."""
    ceiling = min(max_s, initial_s * 2.0 ** (attempts - 1))
    return ceiling / 2.0 + ceiling / 2.0 * jitter


class AlertTransport(ABC):
    """Sends one delivery message to one target of a channel."""

    @abstractmethod
    def send(self, *, target: str, message: DeliveryMessage) -> None:
        """Deliver or raise :class:`DeliveryFailed`."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class WebhookTransport(AlertTransport):
    """POSTs the message as JSON; any 2xx answer accepts it."""

    def __init__(self) -> None:
        import httpx

        self._client: httpx.Client = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)

    def send(self, *, target: str, message: DeliveryMessage) -> None:
        """POST ``message`` to the URL ``target``."""
        import httpx

        headers = {
            "content-type": "application/json",
            "idempotency-key": f"alert-delivery-{message.delivery_id}",
            "x-warehouse-event": message.event,
        }
        try:
            response: httpx.Response = self._client.post(target, content=message.model_dump_json(), headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


class RedisStreamTransport(AlertTransport):
    """XADDs the message to the stream key ``target``."""

    def __init__(self, settings: Settings) -> None:
        import redis

        secret = settings.alert_redis_url or settings.redis_url
        if secret is None:
            raise ConfigurationError(
                "a job delivers alerts to a Redis stream but neither alert_redis_url nor redis_url is set"
            )
        self._client: redis.Redis[bytes] = redis.Redis.from_url(secret.get_secret_value())

    def send(self, *, target: str, message: DeliveryMessage) -> None:
        """Append ``message`` to the stream ``target``."""
        import redis

        fields: dict[str | bytes, str | int | float | bytes] = {
            "delivery_id": str(message.delivery_id),
            "event": message.event,
            "message": message.model_dump_json(),
        }
        try:
            self._client.xadd(target, fields, maxlen=STREAM_MAX_LENGTH, approximate=True)
        except redis.RedisError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Close the Redis connection pool."""
        self._client.close()


class _Transports:
    """One transport per channel, opened on first use in a drain and closed after it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._open: dict[str, AlertTransport] = {}

    def get(self, channel: str) -> AlertTransport:
        if channel not in self._open:
            self._open[channel] = WebhookTransport() if channel == "webhook" else RedisStreamTransport(self._settings)
        return self._open[channel]

    def close(self) -> None:
        for transport in self._open.values():
            transport.close()


def deliver_due(
    settings: Settings, *, now: dt.datetime | None = None, limit: int = DEFAULT_BATCH, jitter: Jitter = random.random
) -> DeliveryReport:
    """Send every pending delivery due at ``now`` (default: the current time), at most ``limit``."""
    moment = now or utc_now()
    report = DeliveryReport()
    transports = _Transports(settings)
    with open_metadata_db(settings) as db:
        try:
            for row in _due_rows(db, moment, limit):
                if not _claim(db, row, moment):
                    continue
                report.attempted += 1
                error = _send(transports, row)
                outcome = _record_outcome(db, row, moment, error=error, jitter=jitter())
                setattr(report, outcome, getattr(report, outcome) + 1)
        finally:
            transports.close()
    if report.attempted:
        logger.info("alert delivery: %s", report.model_dump())
    return report


def _due_rows(db: MetadataDB, moment: dt.datetime, limit: int) -> list[DeliveryRecord]:
    query = (
        select(DeliveryRecord)
        .where(DeliveryRecord.status == "pending", DeliveryRecord.next_attempt_at <= moment)
        .order_by(DeliveryRecord.next_attempt_at, DeliveryRecord.id)
        .limit(limit)
    )
    with db.session() as session:
        return list(session.scalars(query))


def _claim(db: MetadataDB, row: DeliveryRecord, moment: dt.datetime) -> bool:
    """Take the row's next attempt unless another deliverer took it first."""
    claim = (
        update(DeliveryRecord)
        .where(DeliveryRecord.id == row.id, DeliveryRecord.status == "pending", DeliveryRecord.attempts == row.attempts)
        .values(attempts=row.attempts + 1, next_attempt_at=moment + dt.timedelta(seconds=CLAIM_LEASE_S))
    )
    with db.session() as session:
        result = session.execute(claim)
        claimed = int(result.rowcount) == 1  # type: ignore[attr-defined]  # an UPDATE answers a CursorResult
    if claimed:
        row.attempts += 1
    return claimed


def _send(transports: _Transports, row: DeliveryRecord) -> str | None:
    """Send one attempt; the error text, or None when it was accepted."""
    message = DeliveryMessage(
        delivery_id=row.id,
        event=row.event,
        job_name=row.job_name,
        run_id=row.run_id,
        attempt=row.attempts,
        alert=Alert.model_validate_json(row.payload),
    )
    try:
        transports.get(row.channel).send(target=row.target, message=message)
    except (DeliveryFailed, ConfigurationError) as exc:
        logger.warning("delivery %d to %s, attempt %d: %s", row.id, row.channel, row.attempts, exc.message)
        return exc.message
    return None


def _record_outcome(
    db: MetadataDB, row: DeliveryRecord, moment: dt.datetime, *, error: str | None, jitter: float
) -> str:
    """Mark the row delivered, retrying (with its next attempt time) or failed; returns which."""
    with db.session() as session:
        record = session.get(DeliveryRecord, row.id)
        if record is None:
            return "failed"
        if error is None:
            record.status, record.delivered_at, record.last_error = "delivered", moment, ""
            return "delivered"
        record.last_error = error
        if record.attempts >= record.max_attempts:
            record.status = "failed"
            return "failed"
        delay_s = backoff_delay_s(
            record.attempts, initial_s=record.backoff_initial_s, max_s=record.backoff_max_s, jitter=jitter
        )
        record.next_attempt_at = moment + dt.timedelta(seconds=delay_s)
        return "retrying"


def list_deliveries(
    settings: Settings, *, alert_id: int | None = None, status: str | None = None, limit: int = 1000
) -> list[DeliveryView]:
    """Outbox rows, oldest first, optionally of one alert and one status."""
    query = select(DeliveryRecord).order_by(DeliveryRecord.id).limit(limit)
    if alert_id is not None:
        query = query.where(DeliveryRecord.alert_id == alert_id)
    if status is not None:
        query = query.where(DeliveryRecord.status == status)
    with open_metadata_db(settings) as db, db.session() as session:
        return [DeliveryView.model_validate(record) for record in session.scalars(query)]
