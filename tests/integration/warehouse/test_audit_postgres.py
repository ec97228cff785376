"""The SM3-chained audit log on real PostgreSQL (a fresh database per test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.warehouse import audit_contract
from warehouse.audit import verify_chain
from warehouse.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_settings(postgres_database: Callable[[], str], tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "wh", database_url=postgres_database())


def test_intact_chain(pg_settings: Settings) -> None:
    audit_contract.check_intact_chain(pg_settings)


def test_time_filters(pg_settings: Settings) -> None:
    audit_contract.check_time_filters(pg_settings)


def test_edited_row_is_caught(pg_settings: Settings) -> None:
    audit_contract.check_edited_row_is_caught(pg_settings)


def test_deleted_row_is_caught(pg_settings: Settings) -> None:
    audit_contract.check_deleted_row_is_caught(pg_settings)


def test_concurrent_appends_never_fork(pg_settings: Settings) -> None:
    verify_chain(pg_settings)
    audit_contract.check_concurrent_appends_never_fork(pg_settings, writers=6, each=5)
