"""Tamper-evident audit log: an append-only table whose entries are chained with SM3.

Each entry stores the hash of the entry before it and its own hash, computed over a canonical JSON
serialisation of its fields (sequence number, time, actor, action, subject, detail, previous hash).
Editing, deleting or reordering any row breaks the chain at that row, and :func:`verify_chain`
names the first broken entry. Appends are serialised by a single lock row (``audit_head``): the
first statement of every append is an ``UPDATE`` of that row, which takes a row lock on PostgreSQL
and the write lock on SQLite, so two writers can never chain onto the same predecessor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.db import Base, connect_metadata_db, utc_now
from warehouse.security import sm3_hex

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings

GENESIS_HASH = "0" * 64
"""The previous hash of the first entry."""
HEAD_ROW_ID = 1
AuditDetail = Mapping[str, str | int | float | bool | None]
"""Flat, JSON-serialisable facts about an audited event."""


class AuditRecord(Base):
    """One entry of the audit chain."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single lock row that serialises appends; ``seq`` is the last entry's sequence number."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)


class AuditEntry(BaseModel):
    """An audit entry as read back."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, str | int | float | bool | None]
    prev_hash: str
    entry_hash: str


class ChainReport(BaseModel):
    """Outcome of walking the chain."""

    entries: int
    """Entries checked (up to and including the first broken one)."""
    first_broken_seq: int | None
    """Sequence number of the first entry whose hash or link does not match; None when intact."""
    problem: str = ""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern for properties
    @property
    def intact(self) -> bool:
        """True when every entry links to its predecessor and hashes to its stored hash."""
        return self.first_broken_seq is None


def append_entry(session: Session, *, actor: str, action: str, subject: str, detail: AuditDetail) -> int:
    """Append one entry inside the caller's transaction (it commits or rolls back with it); its seq."""
    seq = session.execute(
        update(AuditHead).where(AuditHead.id == HEAD_ROW_ID).values(seq=AuditHead.seq + 1).returning(AuditHead.seq)
    ).scalar_one()
    previous = session.scalar(select(AuditRecord.entry_hash).where(AuditRecord.seq == seq - 1))
    record = AuditRecord(
        seq=seq,
        at=utc_now(),
        actor=actor,
        action=action,
        subject=subject,
        detail=json.dumps(dict(detail), sort_keys=True, separators=(",", ":")),
        prev_hash=previous or GENESIS_HASH,
    )
    record.entry_hash = entry_hash(record)
    session.add(record)
    session.flush()
    return seq


def record_event(settings: Settings, *, actor: str, action: str, subject: str, detail: AuditDetail) -> int:
    """Append one entry in its own transaction (for events outside any other transaction)."""
    db = connect_metadata_db(settings)
    try:
        with db.session() as session:
            return append_entry(session, actor=actor, action=action, subject=subject, detail=detail)
    finally:
        db.dispose()


def entry_hash(record: AuditRecord) -> str:
    """SM3 of the entry's canonical serialisation (the stored hash itself excluded)."""
    canonical = json.dumps(
        {
            "seq": record.seq,
            "at": _utc(record.at).isoformat(timespec="microseconds"),
            "actor": record.actor,
            "action": record.action,
            "subject": record.subject,
            "detail": record.detail,
            "prev_hash": record.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return sm3_hex(canonical.encode("utf-8"))


def verify_chain(settings: Settings) -> ChainReport:
    """Walk the whole chain in order and report the first entry that does not verify."""
    db = connect_metadata_db(settings)
    try:
        with db.session() as session:
            return _walk(session.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
    finally:
        db.dispose()


def _walk(records: Iterable[AuditRecord]) -> ChainReport:
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for record in records:
        checked += 1
        problem = _problem(record, expected_seq, expected_prev)
        if problem:
            return ChainReport(entries=checked, first_broken_seq=record.seq, problem=problem)
        expected_prev, expected_seq = record.entry_hash, record.seq + 1
    return ChainReport(entries=checked, first_broken_seq=None)


def _problem(record: AuditRecord, expected_seq: int, expected_prev: str) -> str:
    if record.seq != expected_seq:
        return f"expected entry {expected_seq} next, found {record.seq} (an entry was deleted)"
    if record.prev_hash != expected_prev:
        return "its previous-hash does not match the entry before it"
    if entry_hash(record) != record.entry_hash:
        return "its contents do not match its hash (the row was edited)"
    return ""


def list_entries(
    settings: Settings,
    *,
    subject: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The latest entries, newest first, optionally filtered by subject prefix, actor and time.

    ``since`` is inclusive and ``until`` exclusive; a moment without a time zone is taken as UTC.
    """
    query = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditRecord.subject.startswith(subject, autoescape=True))
    if actor is not None:
        query = query.where(AuditRecord.actor == actor)
    if since is not None:
        query = query.where(AuditRecord.at >= _utc(since))
    if until is not None:
        query = query.where(AuditRecord.at < _utc(until))
    db = connect_metadata_db(settings)
    try:
        with db.session() as session:
            return [_entry(record) for record in session.scalars(query)]
    finally:
        db.dispose()


def _entry(record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        seq=record.seq,
        at=_utc(record.at),
        actor=record.actor,
        action=record.action,
        subject=record.subject,
        detail=json.loads(record.detail),
        prev_hash=record.prev_hash,
        entry_hash=record.entry_hash,
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite drops the zone on the way back; every stored time is UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
