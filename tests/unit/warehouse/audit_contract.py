"""Audit-chain checks shared by the SQLite (unit) and PostgreSQL (integration) tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from warehouse.audit import GENESIS_HASH, list_entries, record_event, verify_chain
from warehouse.db import MetadataDB
from warehouse.settings import Settings


def append_three(settings: Settings) -> None:
    """Three entries on two subjects by two actors."""
    for index, actor in enumerate(("alice", "bob", "alice")):
        record_event(settings, actor=actor, action="model.submit", subject=f"m/{index}", detail={"n": index})


def check_intact_chain(settings: Settings) -> None:
    """Entries link by hash from the genesis hash, and filters select the right ones."""
    append_three(settings)
    entries = list(reversed(list_entries(settings)))
    report = verify_chain(settings)

    assert report.intact and report.entries == 3
    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [entry.prev_hash for entry in entries[1:]] == [entry.entry_hash for entry in entries[:-1]]
    assert [entry.seq for entry in list_entries(settings, actor="alice")] == [3, 1]
    assert [entry.detail for entry in list_entries(settings, subject="m/1")] == [{"n": 1}]


def check_time_filters(settings: Settings) -> None:
    """``since`` keeps entries at or after a moment, ``until`` those before it; both combine with the others."""
    append_three(settings)
    entries = list(reversed(list_entries(settings)))
    middle = entries[1].at

    since = list_entries(settings, since=middle)
    until = list_entries(settings, until=middle)
    naive = list_entries(settings, since=middle.replace(tzinfo=None), actor="alice")

    assert [entry.seq for entry in since] == [entry.seq for entry in reversed(entries) if entry.at >= middle]
    assert [entry.seq for entry in until] == [entry.seq for entry in reversed(entries) if entry.at < middle]
    assert {2, 3} <= {entry.seq for entry in since} and 1 in {entry.seq for entry in until}
    assert sorted(entry.seq for entry in [*since, *until]) == [1, 2, 3]
    assert [entry.seq for entry in naive] == [3]
    assert list_entries(settings, since=entries[-1].at, until=entries[0].at) == []


def check_edited_row_is_caught(settings: Settings) -> None:
    """A row edited behind the log's back breaks the chain at that row."""
    append_three(settings)
    db = MetadataDB(settings.metadata_url)
    with db.session() as session:
        session.execute(text("UPDATE audit_log SET actor = :actor WHERE seq = :seq"), {"actor": "mallory", "seq": 2})
    db.dispose()

    report = verify_chain(settings)

    assert not report.intact
    assert report.first_broken_seq == 2
    assert "edited" in report.problem


def check_deleted_row_is_caught(settings: Settings) -> None:
    """Deleting a row is caught at the entry after the gap."""
    append_three(settings)
    db = MetadataDB(settings.metadata_url)
    with db.session() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = :seq"), {"seq": 2})
    db.dispose()

    report = verify_chain(settings)

    assert (report.first_broken_seq, report.intact) == (3, False)
    assert "deleted" in report.problem


def check_concurrent_appends_never_fork(settings: Settings, *, writers: int, each: int) -> None:
    """Parallel writers each append; the chain holds every entry exactly once, unforked."""

    def write(worker: int) -> None:
        for index in range(each):
            record_event(settings, actor=f"w{worker}", action="test.append", subject="s", detail={"i": index})

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(writers)))

    report = verify_chain(settings)
    entries = list_entries(settings, limit=writers * each + 10)
    assert report.intact and report.entries == writers * each
    assert len({entry.prev_hash for entry in entries}) == writers * each
