"""The SM3-chained audit log on SQLite: intact chains verify, edits and deletions are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.warehouse import audit_contract
from warehouse.audit import verify_chain
from warehouse.settings import Settings


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "wh")


def test_empty_chain_is_intact(sqlite_settings: Settings) -> None:
    report = verify_chain(sqlite_settings)
    assert (report.intact, report.entries) == (True, 0)


def test_intact_chain(sqlite_settings: Settings) -> None:
    audit_contract.check_intact_chain(sqlite_settings)


def test_time_filters(sqlite_settings: Settings) -> None:
    audit_contract.check_time_filters(sqlite_settings)


def test_edited_row_is_caught(sqlite_settings: Settings) -> None:
    audit_contract.check_edited_row_is_caught(sqlite_settings)


def test_deleted_row_is_caught(sqlite_settings: Settings) -> None:
    audit_contract.check_deleted_row_is_caught(sqlite_settings)


def test_concurrent_appends_never_fork(sqlite_settings: Settings) -> None:
    verify_chain(sqlite_settings)  # schema first, so that writers do not race the migration
    audit_contract.check_concurrent_appends_never_fork(sqlite_settings, writers=4, each=5)


def test_cli_lists_entries_by_actor_and_time(sqlite_settings: Settings) -> None:
    from typer.testing import CliRunner

    from warehouse.audit import list_entries
    from warehouse.cli import app

    audit_contract.append_three(sqlite_settings)
    first, second, _ = reversed(list_entries(sqlite_settings))
    base = ["--data-dir", str(sqlite_settings.data_dir), "audit", "list", "--actor", "alice"]
    since = second.at.replace(tzinfo=None).isoformat()

    late = CliRunner().invoke(app, [*base, "--since", since])
    early = CliRunner().invoke(app, [*base, "--until", since])

    assert late.exit_code == 0 and "m/2" in late.stdout and "m/0" not in late.stdout
    assert early.exit_code == 0 and "m/0" in early.stdout and "m/2" not in early.stdout
    assert first.actor == "alice"
