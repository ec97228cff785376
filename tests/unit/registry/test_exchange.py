"""Two independent warehouses move a model between them as a signed bundle.

The province is a copy of the prepared warehouse (features and a published fire-risk champion);
the city is a copy of the registry's prepared data dir (training runs, no registered model). Each
has its own data dir and node key. The model is exported from the province, the province's key is
trusted in the city, the bundle is imported, promoted, and scored through the city's app, which must
answer what the province answers. Tampered bundles, unknown nodes and unsafe members are refused.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from algorithms.base import ModelMetadata
from registry.bundle import MANIFEST_MEMBER, SIGNATURE_MEMBER
from registry.exchange import ImportReport, export_version, get_provenance, import_bundle
from registry.lifecycle import get_state, lifecycle_history, promote
from registry.models import fetch_model, resolve_version
from tests.auth_helpers import caller_headers
from warehouse.api import create_app
from warehouse.audit import list_entries, verify_chain
from warehouse.cli import app as cli_app
from warehouse.errors import BundleInvalid, BundleTampered, UntrustedNode
from warehouse.nodes import this_node, trust_node
from warehouse.security import keys_dir
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client

if TYPE_CHECKING:
    from tests.unit.registry.conftest import PreparedRuns

NAME = "fire_risk"


@pytest.fixture
def province(prepared_warehouse: Path, tmp_path: Path) -> Settings:
    """The exporting node: features and a published fire-risk champion (version 1)."""
    shutil.copytree(prepared_warehouse, tmp_path / "province")
    return Settings(data_dir=tmp_path / "province")


@pytest.fixture
def city(prepared_runs: PreparedRuns, tmp_path: Path) -> Settings:
    """The importing node: training runs but no registered model, its own node key."""
    shutil.copytree(prepared_runs.root, tmp_path / "city")
    return Settings(data_dir=tmp_path / "city")


def _trust(city: Settings, province: Settings) -> None:
    origin = this_node(province)
    trust_node(city, node_id=origin.node_id, public_key_file=keys_dir(province) / "node_sm2.pub", actor="city-ops")


def _feature_rows(settings: Settings) -> list[dict[str, float | None]]:
    """Six varied rows that meet the inference schema: values spread over each feature's range, some missing
    (the registry's small training runs use feature names of their own, which the schema leaves unbounded)."""
    from features.definitions import service_spec

    names = fetch_model(settings, resolve_version(settings, model_name=NAME, alias_or_version="champion")).metadata
    specs = {spec.name: spec for spec in service_spec(names.feature_service).features}
    rows: list[dict[str, float | None]] = []
    for row in range(6):
        values: dict[str, float | None] = {}
        for column, name in enumerate(names.feature_names):
            spec, step = specs.get(name), (row * 13 + column * 5) % 11  # a name outside the service is unbounded
            low = spec.minimum if spec is not None and spec.minimum is not None else 0.0
            high = spec.maximum if spec is not None and spec.maximum is not None else low + 10.0
            missing = (spec is None or spec.nullable) and (row + column) % 7 == 0
            values[name] = None if missing else low + (high - low) * step / 10
        rows.append(values)
    return rows


def _score(settings: Settings, rows: list[dict[str, float | None]]) -> list[tuple[float, str]]:
    client = TestClient(create_app(settings), headers=caller_headers(settings, "admin"))
    response = client.post(f"/v1/score/{NAME}", json={"features": rows, "explain": True})
    assert response.status_code == 200, response.text
    return [(result["score"], result["level"]) for result in response.json()["results"]]


def test_a_model_moves_from_province_to_city_and_scores_the_same(
    province: Settings, city: Settings, tmp_path: Path
) -> None:
    runner = CliRunner()
    bundle = tmp_path / "fire_risk-champion.tar"
    exported = runner.invoke(
        cli_app,
        [
            "--data-dir",
            str(province.data_dir),
            "models",
            "export",
            NAME,
            "--alias",
            "champion",
            "--out",
            str(bundle),
            "--actor",
            "province-admin",
        ],
    )
    _trust(city, province)
    city_cli = ["--data-dir", str(city.data_dir), "models", "import", str(bundle), "--actor", "city-admin"]
    imported, again = runner.invoke(cli_app, city_cli), runner.invoke(cli_app, city_cli)
    origin = this_node(province).node_id

    assert exported.exit_code == 0, exported.output
    assert f"fire_risk v1 -> {bundle}" in exported.stdout.replace("\n", "")
    assert imported.exit_code == 0, imported.output
    assert f"fire_risk v1: approved, from node {origin} (fire_risk v1)" in imported.stdout.replace("\n", "")
    assert again.exit_code == 0 and "imported before; nothing changed" in again.stdout.replace("\n", "")
    assert [str(version.version) for version in mlflow_client(city).search_model_versions(f"name='{NAME}'")] == ["1"]

    state = get_state(city, model_name=NAME, version="1")
    provenance = get_provenance(city, model_name=NAME, version="1")
    tags = mlflow_client(city).get_model_version(NAME, "1").tags
    assert state.state == "approved" and state.signer_key_id == this_node(city).node_id != origin
    assert provenance is not None
    assert (provenance.origin_node_id, provenance.origin_version, provenance.imported_by) == (origin, "1", "city-admin")
    assert tags["warehouse.origin_node"] == origin and tags["warehouse.bundle_sm3"] == provenance.bundle_sm3
    assert tags["warehouse.imported_by"] == "city-admin" and tags["warehouse.feature_service"] == "fire_risk"
    assert tags["warehouse.model_card"].startswith("# Model card: fire_risk version 1")
    assert [(step.from_state, step.to_state, step.actor) for step in lifecycle_history(city, model_name=NAME)] == [
        (None, "approved", "city-admin")
    ]
    assert list_entries(province, subject=f"{NAME}/1", limit=1)[0].action == "model.export"
    assert [entry.action for entry in list_entries(city, subject=f"{NAME}/1")] == ["model.import"]

    promote(city, model_name=NAME, version="1", alias="champion", actor="city-admin")
    rows = _feature_rows(province)
    assert _score(city, rows) == _score(province, rows)
    assert get_state(city, model_name=NAME, version="1").state == "published"
    assert verify_chain(city).intact and verify_chain(province).intact


def test_results_travel_back_with_their_provenance(province: Settings, city: Settings, tmp_path: Path) -> None:
    _trust(city, province)
    import_bundle(
        city,
        export_version(province, model_name=NAME, alias_or_version="1", out=tmp_path / "down.tar", actor="p").bundle,
        actor="c",
    )
    _trust(province, city)

    back = export_version(city, model_name=NAME, alias_or_version="1", out=tmp_path / "up.tar", actor="c")
    returned = import_bundle(province, back.bundle, actor="p")

    assert (returned.model_name, returned.version, returned.state) == (NAME, "2", "approved")
    assert returned.provenance.origin_node_id == this_node(city).node_id
    with tarfile.open(back.bundle) as archive:
        lineage = archive.extractfile("lineage.json").read().decode()  # type: ignore[union-attr]  # a regular member
    assert f'"origin_node_id": "{this_node(province).node_id}"' in lineage
    home = fetch_model(province, resolve_version(province, model_name=NAME, alias_or_version="2"))
    assert home.metadata.onnx_sm3 == get_state(province, model_name=NAME, version="1").onnx_sm3


def _rewrite(bundle: Path, change: Callable[[str, bytes], bytes], extra: tuple[str, bytes] | None = None) -> None:
    with tarfile.open(bundle) as archive:
        members = [(info, archive.extractfile(info).read()) for info in archive]  # type: ignore[union-attr]  # regular members
    with tarfile.open(bundle, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in [*members, *([(tarfile.TarInfo(extra[0]), extra[1])] if extra else [])]:
            changed = change(info.name, data)
            info.size = len(changed)
            archive.addfile(info, BytesIO(changed))


def _flip_onnx(name: str, data: bytes) -> bytes:
    return data[:100] + bytes([data[100] ^ 1]) + data[101:] if name == "model/model.onnx" else data


@pytest.mark.parametrize(
    ("tamper", "error", "message"),
    [
        (
            lambda path, _: _rewrite(path, _flip_onnx),
            BundleTampered,
            r"model/model\.onnx does not match its SM3 digest",
        ),
        (
            lambda path, _: _rewrite(
                path,
                lambda name, data: (
                    data.replace(b'"version": "1"', b'"version": "7"') if name == MANIFEST_MEMBER else data
                ),
            ),
            BundleTampered,
            r"SM2 signature of manifest\.json",
        ),
        (
            lambda path, other: _rewrite(path, lambda name, data: other if name == SIGNATURE_MEMBER else data),
            BundleTampered,
            r"SM2 signature of manifest\.json",
        ),
        (
            lambda path, _: _rewrite(path, lambda _, data: data, extra=("../../escape.txt", b"x")),
            BundleInvalid,
            "path traversal",
        ),
    ],
    ids=["flipped-onnx-byte", "changed-manifest", "swapped-signature", "path-traversal"],
)
def test_tampered_bundles_are_refused_and_audited(
    province: Settings,
    city: Settings,
    tmp_path: Path,
    tamper: Callable[[Path, bytes], None],
    error: type[Exception],
    message: str,
) -> None:
    bundle = export_version(
        province, model_name=NAME, alias_or_version="champion", out=tmp_path / "b.tar", actor="p"
    ).bundle
    other = export_version(province, model_name=NAME, alias_or_version="1", out=tmp_path / "o.tar", actor="p").bundle
    with tarfile.open(other) as archive:
        other_signature = archive.extractfile(SIGNATURE_MEMBER).read()  # type: ignore[union-attr]  # a regular member
    _trust(city, province)
    tamper(bundle, other_signature)

    with pytest.raises(error, match=message) as caught:
        import_bundle(city, bundle, actor="city-admin")
    refusals = [entry for entry in list_entries(city) if entry.action == "model.import_refused"]

    assert [entry.detail["code"] for entry in refusals] == [caught.value.code]  # type: ignore[attr-defined]  # a WarehouseError
    assert refusals[0].actor == "city-admin" and refusals[0].subject.startswith("bundle/")
    assert mlflow_client(city).search_model_versions(f"name='{NAME}'") == []
    assert not (tmp_path / "escape.txt").exists() and not list(city.runtime_dir.glob(".import-*"))


def test_a_bundle_from_an_unknown_node_is_refused(province: Settings, city: Settings, tmp_path: Path) -> None:
    bundle = export_version(
        province, model_name=NAME, alias_or_version="champion", out=tmp_path / "b.tar", actor="p"
    ).bundle

    result = CliRunner().invoke(cli_app, ["--data-dir", str(city.data_dir), "models", "import", str(bundle)])

    assert result.exit_code == 1 and isinstance(result.exception, UntrustedNode)
    assert f"node {this_node(province).node_id} is not trusted here" in result.exception.message
    assert [entry.detail["code"] for entry in list_entries(city) if entry.action == "model.import_refused"] == [
        "untrusted_node"
    ]


def test_export_refuses_a_version_that_is_not_servable(province: Settings, tmp_path: Path) -> None:
    from registry.lifecycle import suspend
    from warehouse.errors import ModelNotApproved

    suspend(province, model_name=NAME, version="1", actor="ops", reason="drift")

    with pytest.raises(ModelNotApproved, match="is suspended"):
        export_version(province, model_name=NAME, alias_or_version="champion", out=tmp_path / "b.tar", actor="p")
    assert not (tmp_path / "b.tar").exists()


def test_export_and_import_over_http(province: Settings, city: Settings, tmp_path: Path) -> None:
    from warehouse.security import sm3_hex

    province_client = TestClient(create_app(province), headers=caller_headers(province, "admin", name="p"))
    exported = province_client.get(f"/v1/models/{NAME}/versions/1/export")
    _trust(city, province)
    client = TestClient(create_app(city), headers=caller_headers(city, "admin", name="c"))
    tampered_path = tmp_path / "tampered.tar"
    tampered_path.write_bytes(exported.content)
    _rewrite(tampered_path, _flip_onnx)

    tampered = client.post("/v1/models/import", content=tampered_path.read_bytes())
    first = client.post("/v1/models/import", content=exported.content)
    second = client.post("/v1/models/import", content=exported.content)
    empty = client.post("/v1/models/import", content=b"")
    reviewer = caller_headers(city, "reviewer")
    not_admin = client.post("/v1/models/import", content=exported.content, headers=reviewer)
    missing = province_client.get(f"/v1/models/{NAME}/versions/9/export")

    assert exported.status_code == 200 and exported.headers["content-type"] == "application/x-tar"
    assert exported.headers["x-bundle-sm3"] == sm3_hex(exported.content)
    assert exported.headers["x-node-id"] == this_node(province).node_id
    assert not list(province.runtime_dir.glob(".export-*"))
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (422, "bundle_tampered")
    assert "model/model.onnx" in tampered.json()["error"]["message"]
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["state"], first.json()["already_imported"]) == (
        "1",
        "approved",
        False,
    )
    assert first.json()["provenance"]["bundle_sm3"] == sm3_hex(exported.content)
    assert (second.json()["version"], second.json()["already_imported"]) == ("1", True)
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "invalid_request")
    assert (not_admin.status_code, not_admin.json()["error"]["code"]) == (403, "forbidden")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "model_not_found")
    assert not list(city.runtime_dir.glob(".import-*"))


def test_a_signed_bundle_whose_metadata_disagrees_with_its_onnx_is_refused(
    province: Settings, city: Settings, tmp_path: Path
) -> None:
    from registry.bundle import write_bundle
    from warehouse.security import ensure_node_key

    bundle = export_version(province, model_name=NAME, alias_or_version="1", out=tmp_path / "b.tar", actor="p").bundle
    unpacked = tmp_path / "unpacked"
    with tarfile.open(bundle) as archive:
        names = [name for name in archive.getnames() if name not in {MANIFEST_MEMBER, SIGNATURE_MEMBER}]
        archive.extractall(unpacked, filter="data")
    metadata = unpacked / "model" / "extra_files" / "warehouse_model.json"
    text = metadata.read_text(encoding="utf-8")
    original = ModelMetadata.model_validate_json(text).onnx_sm3
    metadata.write_text(text.replace(original, "0" * 64), encoding="utf-8")
    files = {name: unpacked / name for name in names}
    write_bundle(bundle, files=files, key=ensure_node_key(province), model_name=NAME, version="1", alias=None)
    _trust(city, province)

    with pytest.raises(BundleInvalid, match=r"another SM3 digest for model\.onnx than the manifest"):
        import_bundle(city, bundle, actor="c")
    assert mlflow_client(city).search_model_versions(f"name='{NAME}'") == []


def test_concurrent_imports_of_one_bundle_give_one_version(province: Settings, city: Settings, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    bundle = export_version(province, model_name=NAME, alias_or_version="1", out=tmp_path / "b.tar", actor="p").bundle
    _trust(city, province)
    importers = 4
    barrier = Barrier(importers)

    def race(index: int) -> ImportReport:
        barrier.wait()
        return import_bundle(city, bundle, actor=f"city-{index}")

    with ThreadPoolExecutor(importers) as pool:
        reports = list(pool.map(race, range(importers)))
    again = import_bundle(city, bundle, actor="city-later")

    assert {(report.model_name, report.version, report.state) for report in reports} == {(NAME, "1", "approved")}
    assert sorted(report.already_imported for report in reports) == [False, True, True, True]
    winner = next(report for report in reports if not report.already_imported)
    assert {report.provenance for report in reports} == {winner.provenance} == {again.provenance}
    assert again.already_imported and again.version == "1"
    live = mlflow_client(city).search_model_versions(f"name='{NAME}'")
    assert [str(version.version) for version in live] == ["1"]
    imports = [entry for entry in list_entries(city) if entry.action == "model.import"]
    assert [(entry.subject, entry.actor) for entry in imports] == [(f"{NAME}/1", winner.provenance.imported_by)]
    assert verify_chain(city).intact


def test_imports_from_an_untrusted_node_are_refused(province: Settings, city: Settings, tmp_path: Path) -> None:
    from warehouse.nodes import untrust_node

    first = export_version(province, model_name=NAME, alias_or_version="1", out=tmp_path / "1.tar", actor="p").bundle
    _trust(city, province)
    imported = import_bundle(city, first, actor="c")
    origin = this_node(province).node_id
    untrust_node(city, node_id=origin, reason="province key rotated", actor="city-security")

    with pytest.raises(UntrustedNode, match=r"city-security untrusted it at .*\(province key rotated\)") as caught:
        import_bundle(city, first, actor="c")
    result = CliRunner().invoke(cli_app, ["--data-dir", str(city.data_dir), "models", "import", str(first)])

    assert caught.value.code == "untrusted_node"
    assert result.exit_code == 1 and isinstance(result.exception, UntrustedNode)
    refusals = [entry for entry in list_entries(city) if entry.action == "model.import_refused"]
    assert [entry.detail["code"] for entry in refusals] == ["untrusted_node", "untrusted_node"]
    assert [entry.detail["reason"] for entry in list_entries(city, subject=f"node/{origin}", limit=1)] == [
        "province key rotated"
    ]
    assert get_state(city, model_name=NAME, version=imported.version).state == "approved"  # already imported stays
