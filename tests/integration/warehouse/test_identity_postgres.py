"""Identity and authorisation on real PostgreSQL (a fresh database per test): the checks of the SQLite tests.

The route matrix runs on a warehouse without a served model (a governed fire-risk version is seeded
straight into the metadata DB), so an allowed scoring call answers 404 ``model_not_found``: the
caller got past authentication and authorisation, which is what the matrix checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.warehouse import identity_contract as contract
from warehouse.api import create_app
from warehouse.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_settings(postgres_database: Callable[[], str], tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "wh", database_url=postgres_database())


def test_key_lifecycle(pg_settings: Settings) -> None:
    contract.check_key_lifecycle(pg_settings)


def test_refusals_are_audited(pg_settings: Settings) -> None:
    contract.check_refusals_are_audited(pg_settings, TestClient(create_app(pg_settings)))


def test_clearance_and_grants(pg_settings: Settings) -> None:
    contract.check_clearance_and_grants(pg_settings, TestClient(create_app(pg_settings)))


def test_two_person_rule_across_principals(pg_settings: Settings) -> None:
    contract.check_two_person_rule_across_principals(pg_settings, TestClient(create_app(pg_settings)))


def test_principals_keys_and_grants_over_http(pg_settings: Settings) -> None:
    contract.check_identity_over_http(pg_settings, TestClient(create_app(pg_settings)))


def test_route_matrix(pg_settings: Settings) -> None:
    contract.seed_governed_version(pg_settings)
    callers = contract.make_callers(pg_settings)
    client = TestClient(create_app(pg_settings))
    cases = contract.matrix_cases(contract.routes(score_status=404, score_code="model_not_found"))
    failures = []
    for case, caller in cases:
        try:
            contract.check_call(client, case, caller, callers[caller])
        except AssertionError as exc:
            failures.append(str(exc))
    assert failures == [], f"{len(failures)} of {len(cases)} cells failed"
