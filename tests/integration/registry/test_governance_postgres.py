"""Review, release, signing and node exchange with the metadata DB on real PostgreSQL.

The SQLite tests of :mod:`tests.unit.registry` are collected here a second time, unchanged, with
their fixtures redefined: every warehouse keeps its metadata DB (governance records, lifecycle
steps, alias history, provenance, identities, audit chain) in a fresh PostgreSQL database of its
own. ``registry_settings`` is the registry's prepared data dir (its two training runs stay in the
copied MLflow store); ``province`` is such a warehouse with version 1 reviewed and published as
champion; ``city`` is a second, independent warehouse whose MLflow store is PostgreSQL as well
(another fresh database). On top come the checks that need a running server: suspend and delist
reach it without a restart.

A command line run for one of these data dirs gets that node's settings, as an operator's
``WAREHOUSE_DATABASE_URL`` for that node would give them (``_node_settings_for_the_cli``).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from registry.lifecycle import promote
from registry.models import alias_history, register_version
from tests.auth_helpers import caller_headers
from tests.engines import wait_for_score_status
from tests.unit.registry.conftest import approve_version, prepared_runs
from tests.unit.registry.test_adopt import (
    test_adopting_a_missing_version_is_not_found,
    test_an_ungoverned_version_is_adopted_then_reviewed_and_served,
)
from tests.unit.registry.test_card_rendering import test_card_over_http_and_cli_in_html_and_markdown
from tests.unit.registry.test_exchange import (
    _feature_rows,
    test_a_bundle_from_an_unknown_node_is_refused,
    test_a_model_moves_from_province_to_city_and_scores_the_same,
    test_a_signed_bundle_whose_metadata_disagrees_with_its_onnx_is_refused,
    test_concurrent_imports_of_one_bundle_give_one_version,
    test_export_and_import_over_http,
    test_export_refuses_a_version_that_is_not_servable,
    test_imports_from_an_untrusted_node_are_refused,
    test_results_travel_back_with_their_provenance,
    test_tampered_bundles_are_refused_and_audited,
)
from tests.unit.registry.test_lifecycle import (
    test_a_changed_byte_fails_the_load_and_is_audited,
    test_a_forged_signature_fails_the_load,
    test_delisted_versions_never_come_back,
    test_full_path_is_recorded_and_audited,
    test_invalid_transitions_are_409_with_the_reason,
    test_only_approved_versions_take_aliases,
    test_registration_signs_the_artifact,
    test_reject_then_resubmit,
    test_rollback_restores_the_previous_holder,
    test_submit_needs_a_complete_card,
    test_suspended_versions_are_not_served,
    test_two_person_rule,
)
from tests.unit.registry.test_model_registry import (
    test_alias_moves_are_recorded_from_and_to,
    test_register_makes_ready_versions_with_lineage,
    test_resolve_by_alias_or_version_number,
)
from warehouse.api import create_app
from warehouse.settings import Settings

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns

pytestmark = pytest.mark.integration

__all__ = [
    "prepared_runs",
    "test_a_bundle_from_an_unknown_node_is_refused",
    "test_a_changed_byte_fails_the_load_and_is_audited",
    "test_a_forged_signature_fails_the_load",
    "test_a_model_moves_from_province_to_city_and_scores_the_same",
    "test_a_signed_bundle_whose_metadata_disagrees_with_its_onnx_is_refused",
    "test_adopting_a_missing_version_is_not_found",
    "test_alias_moves_are_recorded_from_and_to",
    "test_an_ungoverned_version_is_adopted_then_reviewed_and_served",
    "test_card_over_http_and_cli_in_html_and_markdown",
    "test_concurrent_imports_of_one_bundle_give_one_version",
    "test_delisted_versions_never_come_back",
    "test_export_and_import_over_http",
    "test_export_refuses_a_version_that_is_not_servable",
    "test_full_path_is_recorded_and_audited",
    "test_imports_from_an_untrusted_node_are_refused",
    "test_invalid_transitions_are_409_with_the_reason",
    "test_only_approved_versions_take_aliases",
    "test_register_makes_ready_versions_with_lineage",
    "test_registration_signs_the_artifact",
    "test_reject_then_resubmit",
    "test_resolve_by_alias_or_version_number",
    "test_results_travel_back_with_their_provenance",
    "test_rollback_restores_the_previous_holder",
    "test_submit_needs_a_complete_card",
    "test_suspended_versions_are_not_served",
    "test_tampered_bundles_are_refused_and_audited",
    "test_two_person_rule",
]

NAME = "fire_risk"


_NODES: dict[Path, Settings] = {}
"""The settings of every node a test made, by resolved data dir (for the command line)."""


@pytest.fixture(autouse=True)
def _node_settings_for_the_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``warehouse --data-dir D ...`` inside a test uses the PostgreSQL settings of the node at ``D``."""
    import warehouse.cli

    def settings_for(*, data_dir: Path) -> Settings:
        return _NODES.get(Path(data_dir).resolve()) or Settings(data_dir=data_dir)

    monkeypatch.setattr(warehouse.cli, "Settings", settings_for)
    yield
    _NODES.clear()


def _node(settings: Settings) -> Settings:
    _NODES[settings.data_dir.resolve()] = settings
    return settings


def _on_postgres(source: Path, target: Path, database_url: str, mlflow_url: str | None = None) -> Settings:
    shutil.copytree(source, target)
    return _node(Settings(data_dir=target, database_url=database_url, mlflow_tracking_uri=mlflow_url))


@pytest.fixture
def registry_settings(prepared_runs: PreparedRuns, postgres_database: Callable[[], str], tmp_path: Path) -> Settings:
    """The registry's prepared data dir with its metadata DB on a fresh PostgreSQL database."""
    return _on_postgres(prepared_runs.root, tmp_path / "wh", postgres_database())


@pytest.fixture
def province(prepared_runs: PreparedRuns, postgres_database: Callable[[], str], tmp_path: Path) -> Settings:
    """The exporting node on PostgreSQL: version 1 submitted, approved and published as champion."""
    settings = _on_postgres(prepared_runs.root, tmp_path / "province", postgres_database())
    version = register_version(settings, run_id=prepared_runs.run_ids[0], model_name=NAME, actor="scientist").version
    approve_version(settings, version)
    promote(settings, model_name=NAME, version=version, alias="champion", actor="ops")
    return settings


@pytest.fixture
def city(postgres_database: Callable[[], str], tmp_path: Path) -> Settings:
    """The importing node: a new data dir whose metadata DB and MLflow store are fresh PostgreSQL databases."""
    (tmp_path / "city").mkdir()
    database_url, mlflow_url = postgres_database(), postgres_database()
    return _node(Settings(data_dir=tmp_path / "city", database_url=database_url, mlflow_tracking_uri=mlflow_url))


def test_suspend_reinstate_and_delist_reach_the_running_server(province: Settings) -> None:
    body: dict[str, object] = {"features": _feature_rows(province)}  # rows the inference schema accepts
    step = f"/v1/models/{NAME}/versions/1"
    with TestClient(create_app(province), headers=caller_headers(province, "admin", name="ops")) as client:
        served = wait_for_score_status(client, 200, body, algorithm=NAME)
        suspended = client.post(f"{step}/suspend", json={"reason": "drift"})
        refused = wait_for_score_status(client, 409, body, algorithm=NAME)
        client.post(f"{step}/reinstate", json={"reason": "fixed"})
        restored = wait_for_score_status(client, 200, body, algorithm=NAME)
        delisted = client.post(f"{step}/delist", json={"reason": "retired"})
        gone = wait_for_score_status(client, 409, body, algorithm=NAME)
        again = client.post(f"/v1/models/{NAME}/aliases/champion", json={"version": "1"})

    assert served.json()["model_version"] == "1" and suspended.json()["state"] == "suspended"
    assert "fire_risk version 1 is suspended" in refused.json()["error"]["message"]
    assert restored.json()["model_version"] == "1" and delisted.json()["state"] == "delisted"
    assert "fire_risk version 1 is delisted" in gone.json()["error"]["message"]
    assert (again.status_code, again.json()["error"]["code"]) == (409, "model_not_approved")


def test_audit_query_and_verify_over_http(province: Settings) -> None:
    client = TestClient(create_app(province), headers=caller_headers(province, "admin", name="ops"))
    client.post(f"/v1/models/{NAME}/versions/1/suspend", json={"reason": "drift"})

    by_ops = client.get("/v1/audit", params={"actor": "ops", "model": NAME}).json()
    middle = by_ops[1]["at"]
    since = client.get("/v1/audit", params={"model": NAME, "since": middle}).json()
    until = client.get("/v1/audit", params={"model": NAME, "until": middle}).json()
    by_reviewer = client.get("/v1/audit", params={"actor": "reviewer"}).json()
    clash = client.get("/v1/audit", params={"model": NAME, "subject": "other/"})
    verify = client.get("/v1/audit/verify").json()

    assert [(entry["action"], entry["subject"]) for entry in by_ops] == [
        ("model.suspend", "fire_risk/1"),
        ("alias.move", "fire_risk/champion"),
        ("model.publish", "fire_risk/1"),
    ]
    everything = client.get("/v1/audit", params={"model": NAME}).json()
    moments = [(entry["seq"], dt.datetime.fromisoformat(entry["at"])) for entry in everything]
    cut = dt.datetime.fromisoformat(middle)
    assert [entry["seq"] for entry in since] == [seq for seq, at in moments if at >= cut]
    assert [entry["seq"] for entry in until] == [seq for seq, at in moments if at < cut]
    assert {entry["action"] for entry in since} >= {"model.suspend", "alias.move"}
    assert {entry["action"] for entry in until} >= {"model.register", "model.submit", "model.approve"}
    assert [entry["action"] for entry in by_reviewer] == ["model.approve"]
    assert (clash.status_code, clash.json()["error"]["code"]) == (422, "invalid_request")
    assert verify["intact"] is True and verify["entries"] >= 6


def test_batch_and_serving_loaders_refuse_a_changed_byte(province: Settings) -> None:
    from scheduling.executor import resolve_model
    from serving.repository import ModelRepository
    from warehouse.audit import list_entries
    from warehouse.errors import ModelIntegrityError

    onnx = province.runtime_dir / "models" / NAME / "1" / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 1
    onnx.write_bytes(bytes(data))

    with pytest.raises(ModelIntegrityError, match="registered SM3 digest"):
        resolve_model(province, algorithm=NAME, alias_or_version="champion")
    with pytest.raises(ModelIntegrityError, match="registered SM3 digest"):
        ModelRepository(province).get(NAME, "champion")
    failures = [entry for entry in list_entries(province) if entry.action == "model.integrity_failure"]

    assert [entry.subject for entry in failures] == [f"{NAME}/1", f"{NAME}/1"]


def test_cli_promote_history_rollback_suspend_and_audit_verify(province: Settings, prepared_runs: PreparedRuns) -> None:
    from sqlalchemy import text
    from typer.testing import CliRunner

    from warehouse.cli import app as cli_app
    from warehouse.db import MetadataDB

    second = register_version(province, run_id=prepared_runs.run_ids[1], model_name=NAME, actor="scientist").version
    approve_version(province, second)
    runner = CliRunner()
    base = ["--data-dir", str(province.data_dir), "models"]

    promoted = runner.invoke(cli_app, [*base, "promote", NAME, second, "--alias", "champion", "--actor", "ops"])
    rolled = runner.invoke(cli_app, [*base, "rollback", NAME, "--alias", "champion", "--actor", "ops"])
    history = runner.invoke(cli_app, [*base, "history", NAME])
    suspended = runner.invoke(cli_app, [*base, "suspend", NAME, second, "--reason", "drift", "--actor", "ops"])
    refused = runner.invoke(cli_app, [*base, "promote", NAME, second, "--alias", "challenger", "--actor", "ops"])
    intact = runner.invoke(cli_app, ["--data-dir", str(province.data_dir), "audit", "verify"])
    db = MetadataDB(province.metadata_url)
    with db.session() as session:
        session.execute(text("UPDATE audit_log SET detail = :detail WHERE seq = :seq"), {"detail": "{}", "seq": 3})
    db.dispose()
    broken = runner.invoke(cli_app, ["--data-dir", str(province.data_dir), "audit", "verify"])

    assert promoted.exit_code == 0 and f"{NAME} alias champion: 1 -> {second} (by ops)" in promoted.stdout
    assert rolled.exit_code == 0 and f"{NAME} alias champion: {second} -> 1 (by ops)" in rolled.stdout
    assert history.exit_code == 0 and "alias history of fire_risk" in history.stdout
    assert "lifecycle of fire_risk" in history.stdout
    assert [(move.from_version, move.to_version, move.actor) for move in alias_history(province, NAME)] == [
        (None, "1", "ops"),
        ("1", second, "ops"),
        (second, "1", "ops"),
    ]
    assert suspended.exit_code == 0 and f"{NAME} v{second}: suspended" in suspended.stdout
    assert refused.exit_code == 1 and "is suspended" in str(refused.exception)
    assert intact.exit_code == 0 and "audit chain intact" in intact.stdout
    assert broken.exit_code == 1 and "audit chain broken at entry 3" in broken.stdout
