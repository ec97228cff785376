"""Registered models: versions from training runs, aliases with their history, local artifacts.

MLflow's model registry holds the versions and where each alias points (registry *stages* are
deprecated; aliases are used throughout). Every alias move is also appended to the warehouse's
``alias_history`` table with who moved it, from which version to which, and why, and to the audit
chain. Governance (``registry.store``) sits beside MLflow: a version is recorded and signed when it is
registered, only an approved or published version may receive an alias, and :func:`fetch_model`
loads only a servable version whose digests and SM2 signature verify. Every location
comes from settings: the MLflow store, the metadata DB, and the download directory
``runtime_dir/models/<name>/<version>``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import select

from algorithms.base import METADATA_ARTIFACT_PATH, MODEL_ARTIFACT_NAME, ONNX_FILE_NAME, ModelMetadata
from registry.signing import signed_record, verify_artifact
from registry.store import (
    PUBLISHING_ALIASES,
    LifecycleState,
    ModelProvenance,
    VersionRecord,
    add_imported_record,
    add_record,
    apply_transition,
    find_provenance,
    governance_session,
    load_record,
    require_servable,
)
from warehouse.audit import append_entry
from warehouse.db import AliasEvent, MetadataDB, connect_metadata_db, utc_now
from warehouse.errors import (
    InvalidLifecycleTransition,
    InvalidRequest,
    ModelIntegrityError,
    ModelNotFound,
    ModelNotReady,
)
from warehouse.tracking import ensure_experiment, mlflow_client

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

    from registry.card import ModelCard
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
"""Registered model names: also a directory name under ``runtime_dir/models``."""
ALIAS_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
RESERVED_ALIAS = re.compile(r"latest|v\d+", re.IGNORECASE)
"""MLflow refuses these aliases (``latest`` and ``v<n>`` name versions)."""
VERSION_PATTERN = re.compile(r"[0-9]+")
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
LOOKUP_MISSES = (NOT_FOUND, "INVALID_PARAMETER_VALUE")
"""Error codes of a failed version or alias lookup (MLflow answers an unknown alias with the second)."""
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
REGISTERED_BY_TAG = "warehouse.registered_by"
ADOPTED_BY_TAG = "warehouse.adopted_by"
RUN_TAG_PREFIX = "warehouse."


class ModelVersionRef(BaseModel):
    """One version of a registered model."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    run_id: str | None
    """Training run that logged the model (None for a version registered from elsewhere)."""
    source: str
    """Where MLflow keeps the artifact, e.g. ``models:/m-...``."""
    aliases: tuple[str, ...]
    """Aliases pointing at this version when it was looked up."""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented pattern for properties
    @property
    def model_uri(self) -> str:
        """The registry URI of this version, ``models:/<name>/<version>``."""
        return f"models:/{self.model_name}/{self.version}"


class AliasMove(BaseModel):
    """One move of an alias, as kept in the alias history."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    alias: str
    from_version: str | None
    """Version the alias pointed at before (None: the alias is new)."""
    to_version: str
    actor: str
    reason: str
    at: dt.datetime


class RunRecord(BaseModel):
    """What a run for registered model files carries: where it goes, its tags, params and metrics."""

    model_config = ConfigDict(frozen=True)

    experiment: str
    run_name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]


class ImportOrigin(BaseModel):
    """Where imported model files come from: the exporting node, its version there, the bundle."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    node_id: str
    model_name: str
    version: str
    bundle_sm3: str
    imported_at: dt.datetime


class ModelArtifact(BaseModel):
    """A model version downloaded to this node: its ONNX file and its metadata card."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    ref: ModelVersionRef
    directory: Path
    onnx_path: Path
    metadata: ModelMetadata


def register_version(
    settings: Settings, *, run_id: str, model_name: str, actor: str, ready_timeout_s: int = 300
) -> ModelVersionRef:
    """Register the ONNX model of training run ``run_id`` as a new version of ``model_name``."""
    _check_model_name(model_name)
    client = mlflow_client(settings)
    run = _get_run(client, run_id)
    model_id = _logged_model_id(client, run)
    _ensure_registered_model(client, model_name)
    tags = _warehouse_tags(run)
    created = client.create_model_version(
        name=model_name,
        source=f"models:/{model_id}",
        run_id=run_id,
        tags={**tags, REGISTERED_BY_TAG: actor},
        await_creation_for=ready_timeout_s,
        model_id=model_id,
    )
    version = client.get_model_version(model_name, created.version)
    if version.status != "READY":
        raise ModelNotReady(f"{model_name} version {version.version} is {version.status}, not READY")
    _record_signed_version(settings, _ref(version), actor=actor, reason=f"registered from run {run_id}")
    logger.info("registered %s version %s from run %s (by %s)", model_name, version.version, run_id, actor)
    return _ref(version)


def register_model_files(
    settings: Settings,
    *,
    model_name: str,
    directory: Path,
    run: RunRecord,
    version_tags: dict[str, str],
    ready_timeout_s: int = 300,
) -> ModelVersionRef:
    """Register the model files in ``directory`` (e.g. from another node) as a new version of ``model_name``.

    A run is created for them in experiment ``run.experiment`` with ``run``'s tags, params and
    metrics (so the lineage shows in MLflow as for a trained version), the files are logged as
    that run's model, and the model becomes the new version. Nothing is recorded in governance.
    """
    from mlflow.entities import Metric, Param

    _check_model_name(model_name)
    client = mlflow_client(settings)
    experiment_id = ensure_experiment(settings, run.experiment)
    created = client.create_run(experiment_id, run_name=run.run_name, tags=run.tags)
    run_id = created.info.run_id
    at_ms = int(utc_now().timestamp() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(name, value, at_ms, 0) for name, value in sorted(run.metrics.items())],
        params=[Param(name, value) for name, value in sorted(run.params.items())],
    )
    logged = client.create_logged_model(experiment_id, name=MODEL_ARTIFACT_NAME, source_run_id=run_id)
    client.log_model_artifacts(logged.model_id, str(directory))
    client.finalize_logged_model(logged.model_id, "READY")
    client.set_terminated(run_id)
    _ensure_registered_model(client, model_name)
    version = client.create_model_version(
        name=model_name,
        source=f"models:/{logged.model_id}",
        run_id=run_id,
        tags={**run.tags, **version_tags},
        await_creation_for=ready_timeout_s,
        model_id=logged.model_id,
    )
    version = client.get_model_version(model_name, version.version)
    if version.status != "READY":
        raise ModelNotReady(f"{model_name} version {version.version} is {version.status}, not READY")
    return _ref(version)


def register_imported_version(
    settings: Settings,
    *,
    model_name: str,
    directory: Path,
    run: RunRecord,
    version_tags: dict[str, str],
    card: ModelCard,
    origin: ImportOrigin,
    actor: str,
) -> ModelVersionRef | None:
    """Register model files from another node as a new version, recorded ``approved`` with its provenance.

    The files are registered as by :func:`register_model_files`, digested and signed with this node's
    key, and recorded in state ``approved`` (approved by the origin) with ``card`` (renumbered for the
    new version) and ``origin`` in one transaction. The provenance table allows one local version per
    origin version: when a concurrent import of the same origin version committed first, the MLflow
    version and run made here are deleted again and None is returned (the caller answers with the
    version the other import recorded).
    """
    from sqlalchemy.exc import IntegrityError

    ref = register_model_files(settings, model_name=model_name, directory=directory, run=run, version_tags=version_tags)
    record = signed_record(settings, model_name=ref.model_name, version=ref.version, directory=directory, actor=actor)
    record.card = card.model_copy(update={"version": ref.version}).model_dump_json()
    provenance = ModelProvenance(
        model_name=ref.model_name,
        version=ref.version,
        origin_node_id=origin.node_id,
        origin_model_name=origin.model_name,
        origin_version=origin.version,
        bundle_sm3=origin.bundle_sm3,
        imported_by=actor,
        imported_at=origin.imported_at,
    )
    try:
        with governance_session(settings) as session:
            add_imported_record(session, record, provenance, actor=actor)
    except IntegrityError:
        with governance_session(settings) as session:
            winner = find_provenance(
                session,
                origin_node_id=origin.node_id,
                origin_model_name=origin.model_name,
                origin_version=origin.version,
            )
        if winner is None:  # the conflict was not another import of the same origin version
            raise
        _unregister(settings, ref)
        logger.info(
            "%s version %s of node %s was imported concurrently as version %s; dropped version %s",
            origin.model_name,
            origin.version,
            origin.node_id,
            winner.version,
            ref.version,
        )
        return None
    return ref


def describe_run(settings: Settings, run_id: str) -> RunRecord:
    """A training run as :class:`RunRecord`: experiment, name, ``warehouse.*`` tags, params, metrics."""
    client = mlflow_client(settings)
    run = _get_run(client, run_id)
    return RunRecord(
        experiment=str(client.get_experiment(run.info.experiment_id).name),
        run_name=str(run.info.run_name or run_id),
        tags=_warehouse_tags(run),
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
    )


def _unregister(settings: Settings, ref: ModelVersionRef) -> None:
    """Delete a version made by :func:`register_model_files` that no governance record came to hold."""
    client = mlflow_client(settings)
    client.delete_model_version(ref.model_name, ref.version)
    if ref.run_id is not None:
        client.delete_run(ref.run_id)


def adopt_version(
    settings: Settings, *, model_name: str, version: str, actor: str, reason: str = ""
) -> ModelVersionRef:
    """Bring a version registered before governance existed under governance, in state ``registered``.

    Such a version has no governance record, so :func:`fetch_model` refuses it (nothing says it was
    reviewed, and there is no signature to verify). Adopting digests and signs its files with this
    node's key and records its card as for a new registration; it then goes through review as usual.
    """
    if not VERSION_PATTERN.fullmatch(version):
        raise InvalidRequest(f"version must be a version number, got {version!r}")
    ref = resolve_version(settings, model_name=model_name, alias_or_version=version)
    with governance_session(settings) as session:
        if session.get(VersionRecord, (model_name, ref.version)) is not None:
            raise InvalidLifecycleTransition(
                f"{model_name} version {ref.version} is governed already; nothing to adopt"
            )
    why = reason or "adopted: registered before governance"
    _record_signed_version(settings, ref, actor=actor, reason=why, action="adopt")
    mlflow_client(settings).set_model_version_tag(model_name, ref.version, ADOPTED_BY_TAG, actor)
    logger.info("adopted %s version %s (by %s)", model_name, ref.version, actor)
    return ref


def _record_signed_version(
    settings: Settings, ref: ModelVersionRef, *, actor: str, reason: str, action: str = "register"
) -> None:
    """Digest and sign the version's files and record it in state ``registered`` with its card."""
    from registry.card import card_from_metadata

    directory = _local_directory(settings, ref)
    record = signed_record(settings, model_name=ref.model_name, version=ref.version, directory=directory, actor=actor)
    card = card_from_metadata(ModelMetadata.read(directory / METADATA_ARTIFACT_PATH), version=ref.version)
    record.card = card.model_dump_json()
    with governance_session(settings) as session:
        add_record(session, record, actor=actor, reason=reason, action=action)


def resolve_version(settings: Settings, *, model_name: str, alias_or_version: str) -> ModelVersionRef:
    """The version a digit string names, or the version an alias points at."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(settings)
    try:
        if VERSION_PATTERN.fullmatch(alias_or_version):
            return _ref(client.get_model_version(model_name, alias_or_version))
        return _ref(client.get_model_version_by_alias(model_name, alias_or_version))
    except MlflowException as exc:
        if exc.error_code not in LOOKUP_MISSES:
            raise
        raise _not_found(client, model_name, alias_or_version) from exc


def set_alias(settings: Settings, *, model_name: str, alias: str, version: str, actor: str, reason: str) -> AliasMove:
    """Point ``alias`` at ``version`` and append the move to the alias history."""
    _check_alias(alias)
    if not VERSION_PATTERN.fullmatch(version):
        raise InvalidRequest(f"version must be a version number, got {version!r}")
    target = resolve_version(settings, model_name=model_name, alias_or_version=version)
    previous = list_aliases(settings, model_name).get(alias)
    client = mlflow_client(settings)
    event = AliasEvent(
        model_name=model_name,
        alias=alias,
        from_version=previous,
        to_version=target.version,
        actor=actor,
        reason=reason,
        at=utc_now(),
    )
    with governance_session(settings) as session:  # committed only once MLflow has moved the alias
        record = load_record(session, model_name, target.version, for_update=True)
        require_servable(record)
        if alias in PUBLISHING_ALIASES and record.state == LifecycleState.APPROVED:
            apply_transition(session, record, "publish", actor=actor, reason=f"received alias {alias}")
        session.add(event)
        append_entry(
            session,
            actor=actor,
            action="alias.move",
            subject=f"{model_name}/{alias}",
            detail={"from_version": previous, "to_version": target.version, "reason": reason},
        )
        client.set_registered_model_alias(model_name, alias, target.version)
    logger.info("alias %s of %s: %s -> %s (by %s)", alias, model_name, previous, target.version, actor)
    return _move(event)


def list_aliases(settings: Settings, model_name: str) -> dict[str, str]:
    """Every alias of ``model_name`` and the version it points at."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(settings)
    try:
        registered = client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != NOT_FOUND:
            raise
        raise ModelNotFound(f"no registered model named {model_name!r}") from exc
    return {alias: str(version) for alias, version in sorted(registered.aliases.items())}


def alias_history(settings: Settings, model_name: str) -> list[AliasMove]:
    """Every recorded alias move of ``model_name``, oldest first."""
    db = _metadata_db(settings)
    try:
        with db.session() as session:
            query = select(AliasEvent).where(AliasEvent.model_name == model_name).order_by(AliasEvent.id)
            return [_move(event) for event in session.scalars(query)]
    finally:
        db.dispose()


def fetch_model(settings: Settings, ref: ModelVersionRef) -> ModelArtifact:
    """The version's ONNX file and metadata on local disk, verified (state, SM3 digests, SM2 signature)."""
    _check_model_name(ref.model_name)
    if not VERSION_PATTERN.fullmatch(ref.version):
        raise InvalidRequest(f"version must be a version number, got {ref.version!r}")
    directory = _local_directory(settings, ref)
    verify_artifact(settings, model_name=ref.model_name, version=ref.version, directory=directory)
    metadata = ModelMetadata.read(directory / METADATA_ARTIFACT_PATH)
    onnx_path = directory / ONNX_FILE_NAME
    return ModelArtifact(ref=ref, directory=directory, onnx_path=onnx_path, metadata=metadata)


def _local_directory(settings: Settings, ref: ModelVersionRef) -> Path:
    """The version's files under ``runtime_dir/models``, downloaded if not there yet."""
    directory = settings.runtime_dir / "models" / ref.model_name / ref.version
    if not _is_complete(directory):
        _download(settings, ref, directory)
    return directory


def _download(settings: Settings, ref: ModelVersionRef, directory: Path) -> None:
    """Download into a scratch directory beside the target, then move it into place whole."""
    import mlflow.artifacts

    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{ref.version}-download-"))
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=ref.model_uri,
            dst_path=str(scratch),
            tracking_uri=settings.mlflow_uri,
            registry_uri=settings.mlflow_uri,
        )
        if not _is_complete(scratch):
            raise ModelIntegrityError(f"{ref.model_uri} lacks {ONNX_FILE_NAME} or {METADATA_ARTIFACT_PATH}")
        _move_into_place(scratch, directory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("downloaded %s to %s", ref.model_uri, directory)


def _move_into_place(scratch: Path, directory: Path) -> None:
    if directory.exists() and not _is_complete(directory):  # left by an interrupted download
        shutil.rmtree(directory)
    try:
        scratch.rename(directory)
    except OSError:
        if not _is_complete(directory):  # else another process just put the same version in place
            raise


def _is_complete(directory: Path) -> bool:
    return (directory / ONNX_FILE_NAME).is_file() and (directory / METADATA_ARTIFACT_PATH).is_file()


def _warehouse_tags(run: Run) -> dict[str, str]:
    """The run's ``warehouse.*`` tags (feature service, training data SM3, git commit, seed)."""
    return {key: value for key, value in run.data.tags.items() if key.startswith(RUN_TAG_PREFIX)}


def _get_run(client: MlflowClient, run_id: str) -> Run:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != NOT_FOUND:
            raise
        raise ModelNotFound(f"no training run with id {run_id!r}") from exc


def _logged_model_id(client: MlflowClient, run: Run) -> str:
    """The model named ``model`` that the run logged."""
    outputs = run.outputs.model_outputs if run.outputs is not None else []
    for output in outputs:
        if client.get_logged_model(output.model_id).name == MODEL_ARTIFACT_NAME:
            return str(output.model_id)
    raise ModelNotFound(f"training run {run.info.run_id} logged no model named {MODEL_ARTIFACT_NAME!r}")


def _ensure_registered_model(client: MlflowClient, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != ALREADY_EXISTS:
            raise


def _not_found(client: MlflowClient, model_name: str, alias_or_version: str) -> ModelNotFound:
    """The clearest message: unknown model, unknown version, or unknown alias (listing the known ones)."""
    from mlflow.exceptions import MlflowException

    try:
        registered = client.get_registered_model(model_name)
    except MlflowException:
        return ModelNotFound(f"no registered model named {model_name!r}")
    if VERSION_PATTERN.fullmatch(alias_or_version):
        return ModelNotFound(f"model {model_name!r} has no version {alias_or_version}")
    known = ", ".join(sorted(registered.aliases)) or "none"
    return ModelNotFound(f"model {model_name!r} has no alias {alias_or_version!r} (aliases: {known})")


def _check_model_name(model_name: str) -> None:
    if not MODEL_NAME_PATTERN.fullmatch(model_name):
        raise InvalidRequest(
            f"model name {model_name!r} must start with a letter or digit and hold only letters, digits, _ . -"
        )


def _check_alias(alias: str) -> None:
    if not ALIAS_PATTERN.fullmatch(alias) or RESERVED_ALIAS.fullmatch(alias):
        raise InvalidRequest(
            f"alias {alias!r} must start with a letter, hold only letters, digits, _ and -, "
            "and be neither 'latest' nor 'v<number>'"
        )


def _metadata_db(settings: Settings) -> MetadataDB:
    return connect_metadata_db(settings)


def _ref(version: ModelVersion) -> ModelVersionRef:
    return ModelVersionRef(
        model_name=version.name,
        version=str(version.version),
        run_id=version.run_id or None,
        source=str(version.source),
        aliases=tuple(sorted(version.aliases)),
    )


def _move(event: AliasEvent) -> AliasMove:
    return AliasMove(
        model_name=event.model_name,
        alias=event.alias,
        from_version=event.from_version,
        to_version=event.to_version,
        actor=event.actor,
        reason=event.reason,
        at=event.at if event.at.tzinfo is not None else event.at.replace(tzinfo=dt.UTC),  # SQLite drops the zone
    )
