"""Moving an approved model version between nodes (province to city, and results back) as a signed bundle.

Export takes a servable version (its digests and signature verified first, as for serving) and
writes one bundle (:mod:`registry.bundle`) signed by this node: the ONNX file, ``warehouse_model.json``,
the explainer text model if there is one, the model card as JSON and Markdown, the lineage (training
run tags and params, the governance record and lifecycle steps at the origin, and the provenance
if the origin itself imported it) and the training run's metrics.

Import verifies the bundle against the trusted public key of the exporting node, registers the files
in this node's MLflow registry as a new version (with a run carrying the origin's lineage and
metrics), signs them with this node's key (so serving's verification works unchanged), and records
the version in state ``approved`` (approved by its origin) with its provenance: origin node,
origin version, bundle SM3, who imported it and when, in ``model_provenance`` and as MLflow tags.
The same origin version imported twice gives back the version imported the first time. A refused
bundle (untrusted node, bad signature, digest mismatch, unsafe member) is audited and raised.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from algorithms.base import EXPLAINER_ARTIFACT_PATH, METADATA_ARTIFACT_PATH, ONNX_FILE_NAME, ModelMetadata
from registry.bundle import BundleManifest, UnpackedBundle, unpack_bundle, write_bundle
from registry.card import ModelCard, render_markdown
from registry.lifecycle import Transition, get_card, get_state, lifecycle_history, tag_card
from registry.models import (
    REGISTERED_BY_TAG,
    VERSION_PATTERN,
    ImportOrigin,
    RunRecord,
    describe_run,
    fetch_model,
    register_imported_version,
    resolve_version,
)
from registry.store import ModelProvenance, find_provenance, governance_session, load_provenance
from warehouse.audit import record_event
from warehouse.db import as_utc, utc_now
from warehouse.errors import BundleInvalid, BundleTampered, Conflict, UntrustedNode
from warehouse.nodes import trusted_node_key
from warehouse.security import ensure_node_key, sm3_file_hex

if TYPE_CHECKING:
    from registry.models import ModelVersionRef
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
ONNX_MEMBER = f"{MODEL_DIR}/{ONNX_FILE_NAME}"
METADATA_MEMBER = f"{MODEL_DIR}/{METADATA_ARTIFACT_PATH}"
EXPLAINER_MEMBER = f"{MODEL_DIR}/{EXPLAINER_ARTIFACT_PATH}"
CARD_MEMBER = "card.json"
CARD_MARKDOWN_MEMBER = "card.md"
LINEAGE_MEMBER = "lineage.json"
METRICS_MEMBER = "metrics.json"
REQUIRED_MEMBERS = (ONNX_MEMBER, METADATA_MEMBER, CARD_MEMBER, LINEAGE_MEMBER, METRICS_MEMBER)
ORIGIN_NODE_TAG = "warehouse.origin_node"
ORIGIN_MODEL_TAG = "warehouse.origin_model"
ORIGIN_VERSION_TAG = "warehouse.origin_version"
BUNDLE_SM3_TAG = "warehouse.bundle_sm3"
IMPORTED_BY_TAG = "warehouse.imported_by"
IMPORTED_AT_TAG = "warehouse.imported_at"


class OriginGovernance(BaseModel):
    """The version's governance record on the exporting node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: str
    registered_by: str
    submitted_by: str | None
    onnx_sm3: str
    metadata_sm3: str
    signature: str
    signer_key_id: str


class Provenance(BaseModel):
    """Where an imported version came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    origin_node_id: str
    origin_model_name: str
    origin_version: str
    bundle_sm3: str
    imported_by: str
    imported_at: dt.datetime


class Lineage(BaseModel):
    """The ``lineage.json`` member: training run, governance at the origin, earlier provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    node_id: str
    run_id: str | None
    experiment: str | None
    run_tags: dict[str, str]
    """The training run's ``warehouse.*`` tags (feature service, training data SM3, git commit, seed)."""
    params: dict[str, str]
    governance: OriginGovernance
    lifecycle: list[Transition]
    provenance: Provenance | None
    """Set when the exporting node itself imported the version (a model travelling on or back)."""


class ExportReport(BaseModel):
    """A written bundle."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    alias: str | None
    node_id: str
    bundle: Path
    bundle_sm3: str
    members: list[str]


class ImportReport(BaseModel):
    """An imported version: its local name and number and where it came from."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model_name: str
    version: str
    state: str
    provenance: Provenance
    already_imported: bool
    """True when the same origin version had been imported before (nothing new registered)."""


@dataclasses.dataclass(frozen=True)
class _BundleContents:
    manifest: BundleManifest
    directory: Path
    card: ModelCard
    lineage: Lineage
    metrics: dict[str, float]
    metadata: ModelMetadata


def export_version(
    settings: Settings, *, model_name: str, alias_or_version: str, out: Path, actor: str
) -> ExportReport:
    """Write the version an alias or number names as one bundle signed by this node."""
    ref = resolve_version(settings, model_name=model_name, alias_or_version=alias_or_version)
    alias = None if VERSION_PATTERN.fullmatch(alias_or_version) else alias_or_version
    artifact = fetch_model(settings, ref)  # refuses a version that is not servable or does not verify
    files = {ONNX_MEMBER: artifact.onnx_path, METADATA_MEMBER: artifact.directory / METADATA_ARTIFACT_PATH}
    if (artifact.directory / EXPLAINER_ARTIFACT_PATH).is_file():
        files[EXPLAINER_MEMBER] = artifact.directory / EXPLAINER_ARTIFACT_PATH
    key = ensure_node_key(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.runtime_dir, prefix=".export-") as scratch:
        files.update(_describe(settings, ref, artifact.metadata, Path(scratch), node_id=key.key_id))
        manifest = write_bundle(out, files=files, key=key, model_name=ref.model_name, version=ref.version, alias=alias)
    bundle_sm3 = sm3_file_hex(out)
    detail = {"bundle_sm3": bundle_sm3, "alias": alias, "node_id": key.key_id, "bundle": out.name}
    record_event(settings, actor=actor, action="model.export", subject=f"{ref.model_name}/{ref.version}", detail=detail)
    logger.info("exported %s version %s to %s (by %s)", ref.model_name, ref.version, out, actor)
    return ExportReport(
        model_name=ref.model_name,
        version=ref.version,
        alias=alias,
        node_id=key.key_id,
        bundle=out,
        bundle_sm3=bundle_sm3,
        members=[member.path for member in manifest.members],
    )


def import_bundle(settings: Settings, bundle: Path, *, actor: str) -> ImportReport:
    """Verify a bundle from a trusted node and register its version here, approved, with its provenance."""
    if not bundle.is_file():
        raise BundleInvalid(f"no bundle file {bundle.name}")
    bundle_sm3 = sm3_file_hex(bundle)
    settings.runtime_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=settings.runtime_dir, prefix=".import-"))
    try:
        try:
            unpacked = unpack_bundle(bundle, scratch / "bundle", public_key_for=partial(trusted_node_key, settings))
            contents = _read_contents(unpacked)
        except (BundleInvalid, BundleTampered, UntrustedNode) as exc:
            detail = {"code": exc.code, "problem": exc.message, "bundle": bundle.name}
            record_event(
                settings, actor=actor, action="model.import_refused", subject=f"bundle/{bundle_sm3}", detail=detail
            )
            raise
        existing = _previous_import(settings, contents)
        if existing is None:
            existing = _register_import(settings, contents, bundle_sm3=bundle_sm3, actor=actor)
        else:
            logger.info(
                "bundle %s was imported before as %s version %s", bundle.name, existing.model_name, existing.version
            )
        return existing
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def get_provenance(settings: Settings, *, model_name: str, version: str) -> Provenance | None:
    """Where a version came from (None: registered on this node)."""
    with governance_session(settings) as session:
        row = load_provenance(session, model_name, version)
        return None if row is None else _provenance(row)


def _describe(
    settings: Settings, ref: ModelVersionRef, metadata: ModelMetadata, scratch: Path, *, node_id: str
) -> dict[str, Path]:
    """Card (JSON and Markdown), lineage and metrics of a version, written under ``scratch``."""
    card = get_card(settings, model_name=ref.model_name, version=ref.version)
    state = get_state(settings, model_name=ref.model_name, version=ref.version)
    run = None if ref.run_id is None else describe_run(settings, ref.run_id)
    lineage = Lineage(
        node_id=node_id,
        run_id=ref.run_id,
        experiment=None if run is None else run.experiment,
        run_tags={} if run is None else run.tags,
        params={} if run is None else run.params,
        governance=OriginGovernance(
            state=state.state,
            registered_by=state.registered_by,
            submitted_by=state.submitted_by,
            onnx_sm3=state.onnx_sm3,
            metadata_sm3=state.metadata_sm3,
            signature=state.signature,
            signer_key_id=state.signer_key_id,
        ),
        lifecycle=lifecycle_history(settings, model_name=ref.model_name, version=ref.version),
        provenance=get_provenance(settings, model_name=ref.model_name, version=ref.version),
    )
    documents = {
        CARD_MEMBER: card.model_dump_json(indent=2),
        CARD_MARKDOWN_MEMBER: render_markdown(card),
        LINEAGE_MEMBER: lineage.model_dump_json(indent=2),
        METRICS_MEMBER: _metrics_json((run.metrics if run is not None else {}) or dict(metadata.metrics)),
    }
    for name, text in documents.items():
        (scratch / name).write_text(text, encoding="utf-8")
    return {name: scratch / name for name in documents}


def _metrics_json(metrics: dict[str, float]) -> str:
    return json.dumps(dict(sorted(metrics.items())), indent=2)


def _read_contents(unpacked: UnpackedBundle) -> _BundleContents:
    """The parsed members of a verified bundle; :class:`BundleInvalid` when one is missing or invalid."""
    missing = [name for name in REQUIRED_MEMBERS if unpacked.manifest.member(name) is None]
    if missing:
        raise BundleInvalid(f"the bundle lacks required members: {', '.join(missing)}")
    directory = unpacked.directory
    try:
        card = ModelCard.model_validate_json((directory / CARD_MEMBER).read_bytes())
        lineage = Lineage.model_validate_json((directory / LINEAGE_MEMBER).read_bytes())
        metrics = _parse_metrics((directory / METRICS_MEMBER).read_bytes())
    except ValidationError as exc:
        raise BundleInvalid(f"a bundle member is invalid: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc
    metadata = ModelMetadata.read(directory / METADATA_MEMBER)
    onnx = unpacked.manifest.member(ONNX_MEMBER)
    if onnx is None or metadata.onnx_sm3 != onnx.sm3:
        raise BundleInvalid(f"{METADATA_MEMBER} gives another SM3 digest for {ONNX_FILE_NAME} than the manifest")
    if card.model_name != unpacked.manifest.model_name:
        raise BundleInvalid(f"{CARD_MEMBER} is the card of {card.model_name!r}, not {unpacked.manifest.model_name!r}")
    return _BundleContents(unpacked.manifest, directory, card, lineage, metrics, metadata)


def _parse_metrics(data: bytes) -> dict[str, float]:
    from pydantic import TypeAdapter

    return TypeAdapter(dict[str, float]).validate_json(data)


def _previous_import(settings: Settings, contents: _BundleContents) -> ImportReport | None:
    """The version imported before from the same origin version, if any (refused if its ONNX differs)."""
    manifest = contents.manifest
    with governance_session(settings) as session:
        row = find_provenance(
            session,
            origin_node_id=manifest.node_key_id,
            origin_model_name=manifest.model_name,
            origin_version=manifest.version,
        )
        if row is None:
            return None
        provenance, local_name, local_version = _provenance(row), row.model_name, row.version
    state = get_state(settings, model_name=local_name, version=local_version)
    onnx = manifest.member(ONNX_MEMBER)
    if onnx is None or onnx.sm3 != state.onnx_sm3:
        raise Conflict(
            f"node {manifest.node_key_id}'s {manifest.model_name} version {manifest.version} was imported "
            f"before as version {local_version} with a different {ONNX_FILE_NAME}"
        )
    return ImportReport(
        model_name=local_name,
        version=local_version,
        state=state.state,
        provenance=provenance,
        already_imported=True,
    )


def _register_import(settings: Settings, contents: _BundleContents, *, bundle_sm3: str, actor: str) -> ImportReport:
    """Register the bundle's model here, approved by its origin; a concurrent import of it may win the race."""
    manifest = contents.manifest
    contents.card.require_complete()
    origin = ImportOrigin(
        node_id=manifest.node_key_id,
        model_name=manifest.model_name,
        version=manifest.version,
        bundle_sm3=bundle_sm3,
        imported_at=utc_now(),
    )
    origin_tags = {
        ORIGIN_NODE_TAG: origin.node_id,
        ORIGIN_MODEL_TAG: origin.model_name,
        ORIGIN_VERSION_TAG: origin.version,
        BUNDLE_SM3_TAG: bundle_sm3,
        IMPORTED_BY_TAG: actor,
        IMPORTED_AT_TAG: origin.imported_at.isoformat(),
    }
    run = RunRecord(
        experiment=contents.metadata.algorithm,
        run_name=f"import-{manifest.model_name}-v{manifest.version}-from-{manifest.node_key_id}",
        tags={**contents.lineage.run_tags, **origin_tags},
        params=contents.lineage.params,
        metrics=contents.metrics,
    )
    ref = register_imported_version(
        settings,
        model_name=manifest.model_name,
        directory=contents.directory / MODEL_DIR,
        run=run,
        version_tags={REGISTERED_BY_TAG: actor, **origin_tags},
        card=contents.card,
        origin=origin,
        actor=actor,
    )
    if ref is None:  # a concurrent import of the same origin version recorded it first
        existing = _previous_import(settings, contents)
        if existing is None:
            raise Conflict(f"the import of {manifest.model_name} version {manifest.version} was undone meanwhile")
        return existing
    tag_card(settings, get_card(settings, model_name=ref.model_name, version=ref.version))
    logger.info(
        "imported %s version %s from node %s as version %s",
        manifest.model_name,
        manifest.version,
        manifest.node_key_id,
        ref.version,
    )
    provenance = Provenance(
        origin_node_id=origin.node_id,
        origin_model_name=origin.model_name,
        origin_version=origin.version,
        bundle_sm3=bundle_sm3,
        imported_by=actor,
        imported_at=origin.imported_at,
    )
    state = get_state(settings, model_name=ref.model_name, version=ref.version)
    return ImportReport(
        model_name=ref.model_name, version=ref.version, state=state.state, provenance=provenance, already_imported=False
    )


def _provenance(row: ModelProvenance) -> Provenance:
    return Provenance(
        origin_node_id=row.origin_node_id,
        origin_model_name=row.origin_model_name,
        origin_version=row.origin_version,
        bundle_sm3=row.bundle_sm3,
        imported_by=row.imported_by,
        imported_at=as_utc(row.imported_at),
    )
