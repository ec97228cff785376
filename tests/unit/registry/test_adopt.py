"""Adopting a version registered before governance existed: refused for serving until adopted and approved."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from registry.lifecycle import get_state, lifecycle_history
from registry.models import adopt_version, fetch_model, resolve_version
from registry.store import LifecycleState
from tests.unit.registry.conftest import approve_version
from warehouse.audit import list_entries
from warehouse.cli import app as cli_app
from warehouse.errors import InvalidLifecycleTransition, ModelNotFound
from warehouse.security import ensure_node_key
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns
    from warehouse.settings import Settings

NAME = "fire_risk"


def _register_without_governance(settings: Settings, run_id: str) -> str:
    """What registration did before governance: an MLflow version and nothing else."""
    client = mlflow_client(settings)
    run = client.get_run(run_id)
    assert run.outputs is not None
    model_id = run.outputs.model_outputs[0].model_id
    client.create_registered_model(NAME)
    return str(client.create_model_version(NAME, f"models:/{model_id}", run_id=run_id, model_id=model_id).version)


def test_an_ungoverned_version_is_adopted_then_reviewed_and_served(
    registry_settings: Settings, prepared_runs: PreparedRuns
) -> None:
    version = _register_without_governance(registry_settings, prepared_runs.run_ids[0])
    ref = resolve_version(registry_settings, model_name=NAME, alias_or_version=version)
    with pytest.raises(ModelNotFound, match="no governed version"):
        fetch_model(registry_settings, ref)

    runner = CliRunner()
    base = ["--data-dir", str(registry_settings.data_dir), "models", "adopt", NAME, version, "--actor", "ops"]
    adopted, again = runner.invoke(cli_app, base), runner.invoke(cli_app, base)
    state = get_state(registry_settings, model_name=NAME, version=version)

    assert adopted.exit_code == 0 and f"fire_risk v{version}: registered" in adopted.stdout
    assert again.exit_code == 1 and isinstance(again.exception, InvalidLifecycleTransition)
    assert "governed already" in again.exception.message
    assert (state.state, state.registered_by, state.signer_key_id) == (
        LifecycleState.REGISTERED,
        "ops",
        ensure_node_key(registry_settings).key_id,
    )
    assert [(s.from_state, s.to_state, s.reason) for s in lifecycle_history(registry_settings, model_name=NAME)] == [
        (None, "registered", "adopted: registered before governance")
    ]
    (entry,) = list_entries(registry_settings, subject=f"{NAME}/{version}")
    assert (entry.action, entry.actor) == ("model.adopt", "ops")
    assert mlflow_client(registry_settings).get_model_version(NAME, version).tags["warehouse.adopted_by"] == "ops"

    approve_version(registry_settings, version)
    assert fetch_model(registry_settings, ref).metadata.run_id == prepared_runs.run_ids[0]


def test_adopting_a_missing_version_is_not_found(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    _register_without_governance(registry_settings, prepared_runs.run_ids[0])

    with pytest.raises(ModelNotFound, match="has no version 4"):
        adopt_version(registry_settings, model_name=NAME, version="4", actor="ops")
    assert list_entries(registry_settings, subject=f"{NAME}/") == []
