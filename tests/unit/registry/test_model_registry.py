"""Registering versions, moving aliases with their history, resolving and fetching models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mlflow
import numpy as np
import onnxruntime as ort
import pytest
from mlflow import MlflowClient

from algorithms.testing import synthetic_training_set
from registry.models import (
    AliasMove,
    ModelVersionRef,
    alias_history,
    fetch_model,
    list_aliases,
    register_version,
    resolve_version,
    set_alias,
)
from tests.unit.registry.conftest import approve_version
from warehouse.errors import InvalidRequest, ModelIntegrityError, ModelNotFound
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns
    from warehouse.settings import Settings

NAME = "fire_risk"


def _register_both(settings: Settings, prepared_runs: PreparedRuns) -> list[ModelVersionRef]:
    """Register both runs and take each version through review to approved."""
    refs = [
        register_version(settings, run_id=run_id, model_name=NAME, actor="scientist")
        for run_id in prepared_runs.run_ids
    ]
    for ref in refs:
        approve_version(settings, ref.version)
    return refs


def test_register_makes_ready_versions_with_lineage(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    first, second = _register_both(registry_settings, prepared_runs)
    client = mlflow_client(registry_settings)
    stored = client.get_model_version(NAME, "1")
    run_tags = client.get_run(prepared_runs.run_ids[0]).data.tags

    assert (first.version, second.version) == ("1", "2")
    assert (first.run_id, second.run_id) == prepared_runs.run_ids
    assert first.source.startswith("models:/m-")
    assert first.model_uri == "models:/fire_risk/1"
    assert first.aliases == ()
    assert stored.status == "READY"
    assert stored.tags["warehouse.registered_by"] == "scientist"
    assert stored.tags["warehouse.training_data_digest"] == run_tags["warehouse.training_data_digest"]
    assert stored.tags["warehouse.feature_service"] == "fire_risk"


def test_alias_moves_are_recorded_from_and_to(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    _register_both(registry_settings, prepared_runs)

    first = set_alias(registry_settings, model_name=NAME, alias="champion", version="1", actor="alice", reason="first")
    second = set_alias(registry_settings, model_name=NAME, alias="champion", version="2", actor="bob", reason="better")
    set_alias(registry_settings, model_name=NAME, alias="challenger", version="1", actor="bob", reason="shadow")
    history = alias_history(registry_settings, NAME)

    assert (first.from_version, first.to_version) == (None, "1")
    assert (second.from_version, second.to_version) == ("1", "2")
    assert list_aliases(registry_settings, NAME) == {"challenger": "1", "champion": "2"}
    assert [(move.alias, move.from_version, move.to_version, move.actor, move.reason) for move in history] == [
        ("champion", None, "1", "alice", "first"),
        ("champion", "1", "2", "bob", "better"),
        ("challenger", None, "1", "bob", "shadow"),
    ]
    assert all(move.at.tzinfo is not None for move in history)
    assert history[0].at <= history[1].at <= history[2].at
    assert history[1] == second
    assert alias_history(registry_settings, "no_such_model") == []


def test_resolve_by_alias_or_version_number(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    _register_both(registry_settings, prepared_runs)
    set_alias(registry_settings, model_name=NAME, alias="champion", version="2", actor="a", reason="r")

    by_alias = resolve_version(registry_settings, model_name=NAME, alias_or_version="champion")
    by_number = resolve_version(registry_settings, model_name=NAME, alias_or_version="1")

    assert (by_alias.version, by_alias.run_id, by_alias.aliases) == ("2", prepared_runs.run_ids[1], ("champion",))
    assert (by_number.version, by_number.aliases) == ("1", ())


@pytest.mark.parametrize(
    ("model_name", "alias_or_version", "message"),
    [
        ("flood_risk", "champion", "no registered model named 'flood_risk'"),
        ("flood_risk", "3", "no registered model named 'flood_risk'"),
        (NAME, "challenger", "model 'fire_risk' has no alias 'challenger' (aliases: champion)"),
        (NAME, "9", "model 'fire_risk' has no version 9"),
    ],
)
def test_unknown_models_aliases_and_versions_are_not_found(
    registry_settings: Settings, prepared_runs: PreparedRuns, model_name: str, alias_or_version: str, message: str
) -> None:
    _register_both(registry_settings, prepared_runs)
    set_alias(registry_settings, model_name=NAME, alias="champion", version="1", actor="a", reason="r")

    with pytest.raises(ModelNotFound) as caught:
        resolve_version(registry_settings, model_name=model_name, alias_or_version=alias_or_version)

    assert caught.value.message == message
    assert (caught.value.status, caught.value.code) == (404, "model_not_found")


def test_unknown_model_has_no_aliases(registry_settings: Settings) -> None:
    with pytest.raises(ModelNotFound, match="flood_risk"):
        list_aliases(registry_settings, "flood_risk")


def test_registering_needs_a_run_that_logged_a_model(registry_settings: Settings) -> None:
    client = mlflow_client(registry_settings)
    experiment = client.get_experiment_by_name("fire_risk")
    assert experiment is not None
    empty_run = client.create_run(experiment.experiment_id)

    with pytest.raises(ModelNotFound, match="no training run"):
        register_version(registry_settings, run_id="0" * 32, model_name=NAME, actor="a")
    with pytest.raises(ModelNotFound, match="logged no model"):
        register_version(registry_settings, run_id=empty_run.info.run_id, model_name=NAME, actor="a")


@pytest.mark.parametrize("alias", ["latest", "v2", "V10", "7", "two words", "-x", ""])
def test_invalid_aliases_are_refused(registry_settings: Settings, prepared_runs: PreparedRuns, alias: str) -> None:
    _register_both(registry_settings, prepared_runs)

    with pytest.raises(InvalidRequest, match="alias"):
        set_alias(registry_settings, model_name=NAME, alias=alias, version="1", actor="a", reason="r")
    assert alias_history(registry_settings, NAME) == []


def test_alias_to_a_missing_version_moves_nothing(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    _register_both(registry_settings, prepared_runs)

    with pytest.raises(ModelNotFound, match="no version 5"):
        set_alias(registry_settings, model_name=NAME, alias="champion", version="5", actor="a", reason="r")
    with pytest.raises(InvalidRequest, match="version number"):
        set_alias(registry_settings, model_name=NAME, alias="champion", version="champion", actor="a", reason="r")
    assert list_aliases(registry_settings, NAME) == {}
    assert alias_history(registry_settings, NAME) == []


def test_a_failed_mlflow_move_leaves_no_history_row(
    registry_settings: Settings, prepared_runs: PreparedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_both(registry_settings, prepared_runs)

    def refuse(self: MlflowClient, name: str, alias: str, version: str) -> None:
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(RuntimeError, match="unavailable"):
        set_alias(registry_settings, model_name=NAME, alias="champion", version="1", actor="a", reason="r")
    assert alias_history(registry_settings, NAME) == []


def test_invalid_model_names_are_refused(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    with pytest.raises(InvalidRequest, match="model name"):
        register_version(registry_settings, run_id=prepared_runs.run_ids[0], model_name="../escape", actor="a")
    ref = ModelVersionRef(model_name="../escape", version="1", run_id=None, source="x", aliases=())
    with pytest.raises(InvalidRequest, match="model name"):
        fetch_model(registry_settings, ref)
    with pytest.raises(InvalidRequest, match="version number"):
        fetch_model(registry_settings, ref.model_copy(update={"model_name": NAME, "version": "../1"}))


def test_fetch_downloads_once_into_the_runtime_dir(
    registry_settings: Settings, prepared_runs: PreparedRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_both(registry_settings, prepared_runs)
    set_alias(registry_settings, model_name=NAME, alias="champion", version="2", actor="a", reason="r")
    ref = resolve_version(registry_settings, model_name=NAME, alias_or_version="champion")

    artifact = fetch_model(registry_settings, ref)

    assert artifact.directory == registry_settings.runtime_dir / "models" / NAME / "2"
    assert artifact.onnx_path == artifact.directory / "model.onnx"
    assert artifact.ref == ref
    assert artifact.metadata.run_id == prepared_runs.run_ids[1]
    assert artifact.metadata.model_name == NAME
    assert not [path.name for path in artifact.directory.parent.iterdir() if path.name.startswith(".")]

    def no_download(**kwargs: object) -> str:
        raise AssertionError("the model should have been reused")

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", no_download)
    assert fetch_model(registry_settings, ref) == artifact


def test_fetched_model_scores_with_its_card(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    (ref, _) = _register_both(registry_settings, prepared_runs)
    artifact = fetch_model(registry_settings, ref)
    card = artifact.metadata
    frame = synthetic_training_set(n_entities=5, seed=9, positive_rate=0.1)

    session = ort.InferenceSession(str(artifact.onnx_path), providers=["CPUExecutionProvider"])
    matrix = frame[list(card.feature_names)].to_numpy(dtype=np.float32)
    (probabilities,) = session.run([card.onnx_output], {card.onnx_input: matrix})
    grades = card.grading.grade(probabilities[:, card.positive_class_index])

    assert probabilities.shape == (len(frame), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert set(grades.levels) <= {"low", "medium", "high", "critical"}


def test_tampered_or_incomplete_downloads(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    (ref, _) = _register_both(registry_settings, prepared_runs)
    artifact = fetch_model(registry_settings, ref)

    artifact.onnx_path.write_bytes(artifact.onnx_path.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="SM3"):
        fetch_model(registry_settings, ref)

    (artifact.directory / "extra_files" / "warehouse_model.json").unlink()  # as if a download was cut short
    assert fetch_model(registry_settings, ref).metadata == artifact.metadata


def test_refs_and_moves_round_trip_through_json(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    (ref, _) = _register_both(registry_settings, prepared_runs)
    move = set_alias(registry_settings, model_name=NAME, alias="champion", version="1", actor="a", reason="r")

    assert AliasMove.model_validate_json(move.model_dump_json()) == move
    assert '"model_uri":"models:/fire_risk/1"' in ref.model_dump_json()
    assert ModelVersionRef.model_validate_json(ref.model_dump_json()) == ref
