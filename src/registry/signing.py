"""SM3 digests and SM2 signatures of registered model artifacts, and their check before every load.

At registration the node signs, with its SM2 key, a payload binding the model name, the version,
the SM3 digest of ``model.onnx`` and the SM3 digest of ``warehouse_model.json`` (so that neither the
weights nor the grading thresholds can change unnoticed). :func:`verify_artifact` is the one check
the serving repository and the batch executor both go through (via ``registry.models.fetch_model``):
lifecycle state, both digests, and the signature. A failure is audited and raised as
:class:`~warehouse.errors.ModelIntegrityError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from algorithms.base import METADATA_ARTIFACT_PATH, ONNX_FILE_NAME, ModelMetadata
from registry.store import VersionRecord, governance_session, load_record, require_servable
from warehouse.audit import record_event
from warehouse.errors import ConfigurationError, ModelIntegrityError
from warehouse.security import ensure_node_key, sm2_sign, sm2_verify, sm3_file_hex, trusted_public_key

if TYPE_CHECKING:
    from warehouse.settings import Settings

PAYLOAD_FORMAT = "warehouse-model-signature-v1"


def signing_payload(*, model_name: str, version: str, onnx_sm3: str, metadata_sm3: str) -> bytes:
    """The exact bytes signed for a version."""
    return "\n".join((PAYLOAD_FORMAT, model_name, version, onnx_sm3, metadata_sm3)).encode("utf-8")


def signed_record(settings: Settings, *, model_name: str, version: str, directory: Path, actor: str) -> VersionRecord:
    """A new governance record for the artifact in ``directory``: digests computed, signed by this node."""
    onnx_sm3 = sm3_file_hex(directory / ONNX_FILE_NAME)
    metadata_sm3 = sm3_file_hex(directory / METADATA_ARTIFACT_PATH)
    metadata = ModelMetadata.read(directory / METADATA_ARTIFACT_PATH)
    if metadata.onnx_sm3 != onnx_sm3:
        raise ModelIntegrityError(f"{model_name} version {version}: {ONNX_FILE_NAME} does not match its SM3 digest")
    key = ensure_node_key(settings)
    payload = signing_payload(model_name=model_name, version=version, onnx_sm3=onnx_sm3, metadata_sm3=metadata_sm3)
    return VersionRecord(
        model_name=model_name,
        version=version,
        registered_by=actor,
        submitted_by=None,
        card="",
        onnx_sm3=onnx_sm3,
        metadata_sm3=metadata_sm3,
        signature=sm2_sign(key, payload),
        signer_key_id=key.key_id,
    )


def verify_artifact(settings: Settings, *, model_name: str, version: str, directory: Path) -> None:
    """Refuse to load a version that is not servable or whose files or signature do not verify."""
    with governance_session(settings) as session:
        record = load_record(session, model_name, version)
        require_servable(record)
        session.expunge(record)
    problem = artifact_problem(settings, record, directory)
    if problem:
        record_event(
            settings,
            actor="system",
            action="model.integrity_failure",
            subject=f"{model_name}/{version}",
            detail={"problem": problem, "directory": str(directory)},
        )
        raise ModelIntegrityError(f"{model_name} version {version} failed verification: {problem}")


def artifact_problem(settings: Settings, record: VersionRecord, directory: Path) -> str:
    """What is wrong with the files in ``directory`` against the signed record ('' when nothing)."""
    onnx_sm3 = sm3_file_hex(directory / ONNX_FILE_NAME)
    if onnx_sm3 != record.onnx_sm3:
        return f"{ONNX_FILE_NAME} does not match its registered SM3 digest"
    if sm3_file_hex(directory / METADATA_ARTIFACT_PATH) != record.metadata_sm3:
        return f"{METADATA_ARTIFACT_PATH} does not match its registered SM3 digest"
    payload = signing_payload(
        model_name=record.model_name, version=record.version, onnx_sm3=record.onnx_sm3, metadata_sm3=record.metadata_sm3
    )
    try:
        public_key = trusted_public_key(settings, record.signer_key_id)
    except ConfigurationError as exc:
        return exc.message
    if not sm2_verify(public_key, payload, record.signature):
        return f"the SM2 signature by key {record.signer_key_id} does not verify"
    return ""
