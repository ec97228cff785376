"""Review and release: the transition table, two-person rule, model cards, aliases, signatures, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from registry.card import ModelCardUpdate, render_markdown
from registry.lifecycle import (
    approve,
    delist,
    get_card,
    get_state,
    lifecycle_history,
    promote,
    reinstate,
    reject,
    rollback,
    submit,
    suspend,
)
from registry.models import alias_history, fetch_model, list_aliases, register_version, resolve_version, set_alias
from registry.store import LifecycleState
from tests.unit.registry.conftest import COMPLETE_CARD, approve_version
from warehouse.audit import list_entries, verify_chain
from warehouse.db import MetadataDB
from warehouse.errors import (
    InvalidLifecycleTransition,
    ModelCardIncomplete,
    ModelIntegrityError,
    ModelNotApproved,
    TwoPersonRuleViolation,
)
from warehouse.security import keys_dir, sm2_verify
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns
    from warehouse.settings import Settings

NAME = "fire_risk"


def _register(settings: Settings, prepared_runs: PreparedRuns) -> list[str]:
    return [
        register_version(settings, run_id=run_id, model_name=NAME, actor="scientist").version
        for run_id in prepared_runs.run_ids
    ]


def _states(settings: Settings, version: str) -> list[tuple[str | None, str, str]]:
    return [
        (step.from_state, step.to_state, step.actor)
        for step in lifecycle_history(settings, model_name=NAME, version=version)
    ]


def test_full_path_is_recorded_and_audited(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    approve_version(registry_settings, version)
    promote(registry_settings, model_name=NAME, version=version, alias="champion", actor="admin", reason="go")
    suspend(registry_settings, model_name=NAME, version=version, actor="admin", reason="drift")
    delist(registry_settings, model_name=NAME, version=version, actor="admin", reason="retired")

    assert _states(registry_settings, version) == [
        (None, "registered", "scientist"),
        ("registered", "in_review", "scientist"),
        ("in_review", "approved", "reviewer"),
        ("approved", "published", "admin"),
        ("published", "suspended", "admin"),
        ("suspended", "delisted", "admin"),
    ]
    actions = [entry.action for entry in reversed(list_entries(registry_settings, subject=f"{NAME}/"))]
    assert actions == [
        "model.register",
        "model.register",
        "model.submit",
        "model.approve",
        "model.publish",
        "alias.move",
        "model.suspend",
        "model.delist",
    ]
    assert verify_chain(registry_settings).intact


def test_invalid_transitions_are_409_with_the_reason(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)

    with pytest.raises(InvalidLifecycleTransition) as caught:
        approve(registry_settings, model_name=NAME, version=version, actor="reviewer")
    with pytest.raises(InvalidLifecycleTransition, match="it is registered"):
        suspend(registry_settings, model_name=NAME, version=version, actor="admin", reason="x")

    assert (caught.value.status, caught.value.code) == (409, "invalid_lifecycle_transition")
    assert "it is registered, and approve needs one of: in_review" in caught.value.message
    assert get_state(registry_settings, model_name=NAME, version=version).state == LifecycleState.REGISTERED


def test_two_person_rule(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    submit(registry_settings, model_name=NAME, version=version, actor="alice", card=COMPLETE_CARD)

    with pytest.raises(TwoPersonRuleViolation, match="'alice' submitted"):
        approve(registry_settings, model_name=NAME, version=version, actor="alice")
    state = approve(registry_settings, model_name=NAME, version=version, actor="bob")

    assert (state.state, state.submitted_by) == (LifecycleState.APPROVED, "alice")


def test_submit_needs_a_complete_card(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    partial = ModelCardUpdate(intended_use="triage", classification="sensitive")

    with pytest.raises(ModelCardIncomplete) as caught:
        submit(registry_settings, model_name=NAME, version=version, actor="alice", card=partial)
    submit(registry_settings, model_name=NAME, version=version, actor="alice", card=COMPLETE_CARD)
    card = get_card(registry_settings, model_name=NAME, version=version)
    tags = mlflow_client(registry_settings).get_model_version(NAME, version).tags

    assert caught.value.status == 422
    assert caught.value.message.endswith("lacks: owner_department, limitations")
    assert get_state(registry_settings, model_name=NAME, version=version).state == LifecycleState.IN_REVIEW
    assert card.feature_service == "fire_risk" and card.metrics and card.grading is not None
    assert card.training_data is not None and card.training_data.startswith("training set SM3 ")
    assert tags["warehouse.model_card"] == render_markdown(card)
    assert "| metric | value |" in render_markdown(card) and "fire brigade" in render_markdown(card)


def test_reject_then_resubmit(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    submit(registry_settings, model_name=NAME, version=version, actor="alice", card=COMPLETE_CARD)
    reject(registry_settings, model_name=NAME, version=version, actor="bob", reason="needs more data")

    with pytest.raises(InvalidLifecycleTransition):
        approve(registry_settings, model_name=NAME, version=version, actor="bob")
    state = submit(registry_settings, model_name=NAME, version=version, actor="alice", reason="retrained")

    assert state.state == LifecycleState.IN_REVIEW
    assert [step.reason for step in lifecycle_history(registry_settings, model_name=NAME)][-2:] == [
        "needs more data",
        "retrained",
    ]


def test_only_approved_versions_take_aliases(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)

    with pytest.raises(ModelNotApproved, match="is registered"):
        set_alias(registry_settings, model_name=NAME, alias="champion", version=version, actor="a", reason="r")
    approve_version(registry_settings, version)
    promote(registry_settings, model_name=NAME, version=version, alias="staging", actor="a")
    assert get_state(registry_settings, model_name=NAME, version=version).state == LifecycleState.APPROVED
    promote(registry_settings, model_name=NAME, version=version, alias="challenger", actor="a")

    assert get_state(registry_settings, model_name=NAME, version=version).state == LifecycleState.PUBLISHED
    assert list_aliases(registry_settings, NAME) == {"challenger": version, "staging": version}


def test_delisted_versions_never_come_back(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    approve_version(registry_settings, version)
    delist(registry_settings, model_name=NAME, version=version, actor="admin", reason="withdrawn")

    with pytest.raises(ModelNotApproved, match="is delisted"):
        promote(registry_settings, model_name=NAME, version=version, alias="champion", actor="admin")
    for step in (submit, reinstate):
        with pytest.raises(InvalidLifecycleTransition):
            step(registry_settings, model_name=NAME, version=version, actor="admin", reason="again")
    with pytest.raises(InvalidLifecycleTransition):
        delist(registry_settings, model_name=NAME, version=version, actor="admin", reason="twice")


def test_rollback_restores_the_previous_holder(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    first, second = _register(registry_settings, prepared_runs)
    for version in (first, second):
        approve_version(registry_settings, version)
    with pytest.raises(InvalidLifecycleTransition, match="never been set"):
        rollback(registry_settings, model_name=NAME, alias="champion", actor="admin")
    promote(registry_settings, model_name=NAME, version=first, alias="champion", actor="admin")
    with pytest.raises(InvalidLifecycleTransition, match="no holder before"):
        rollback(registry_settings, model_name=NAME, alias="champion", actor="admin")
    promote(registry_settings, model_name=NAME, version=second, alias="champion", actor="admin")

    move = rollback(registry_settings, model_name=NAME, alias="champion", actor="oncall")

    assert (move.from_version, move.to_version, move.actor) == (second, first, "oncall")
    assert move.reason == f"rollback from version {second}"
    assert list_aliases(registry_settings, NAME)["champion"] == first
    assert [m.to_version for m in alias_history(registry_settings, NAME)] == [first, second, first]


def test_suspended_versions_are_not_served(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    approve_version(registry_settings, version)
    promote(registry_settings, model_name=NAME, version=version, alias="champion", actor="admin")
    ref = resolve_version(registry_settings, model_name=NAME, alias_or_version="champion")
    assert fetch_model(registry_settings, ref).ref.version == version

    suspend(registry_settings, model_name=NAME, version=version, actor="admin", reason="complaint")
    with pytest.raises(ModelNotApproved, match="is suspended") as caught:
        fetch_model(registry_settings, ref)
    reinstate(registry_settings, model_name=NAME, version=version, actor="admin", reason="resolved")

    assert caught.value.status == 409
    assert fetch_model(registry_settings, ref).ref.version == version


def test_registration_signs_the_artifact(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    from registry.signing import signing_payload

    version, _ = _register(registry_settings, prepared_runs)
    state = get_state(registry_settings, model_name=NAME, version=version)
    public_key = (keys_dir(registry_settings) / "node_sm2.pub").read_text().strip()
    payload = signing_payload(
        model_name=NAME, version=version, onnx_sm3=state.onnx_sm3, metadata_sm3=state.metadata_sm3
    )

    assert sm2_verify(public_key, payload, state.signature)
    assert not sm2_verify(public_key, payload.replace(b"fire_risk", b"fire_riskX"), state.signature)
    assert len(state.signer_key_id) == 16


def test_a_changed_byte_fails_the_load_and_is_audited(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    approve_version(registry_settings, version)
    ref = resolve_version(registry_settings, model_name=NAME, alias_or_version=version)
    artifact = fetch_model(registry_settings, ref)
    original = artifact.onnx_path.read_bytes()
    artifact.onnx_path.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])

    with pytest.raises(ModelIntegrityError, match=r"model\.onnx does not match its registered SM3 digest"):
        fetch_model(registry_settings, ref)
    failures = list_entries(registry_settings, subject=f"{NAME}/{version}")

    assert failures[0].action == "model.integrity_failure"
    assert failures[0].actor == "system"
    assert "SM3" in str(failures[0].detail["problem"])


def test_a_forged_signature_fails_the_load(registry_settings: Settings, prepared_runs: PreparedRuns) -> None:
    version, _ = _register(registry_settings, prepared_runs)
    approve_version(registry_settings, version)
    ref = resolve_version(registry_settings, model_name=NAME, alias_or_version=version)
    state = get_state(registry_settings, model_name=NAME, version=version)
    forged = state.signature[:-1] + ("0" if state.signature[-1] != "0" else "1")
    db = MetadataDB(registry_settings.metadata_url)
    with db.session() as session:
        session.execute(
            text("UPDATE model_lifecycle SET signature = :signature WHERE model_name = :name AND version = :version"),
            {"signature": forged, "name": NAME, "version": version},
        )
    db.dispose()

    with pytest.raises(ModelIntegrityError, match="SM2 signature"):
        fetch_model(registry_settings, ref)
