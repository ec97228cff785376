"""Timings of moving a model between two nodes as a signed bundle, and of the bundle format itself.

Two fresh data dirs (province, city), each with its own SM2 node key. The province trains a fire-risk
model (default parameters) on a synthetic training set, registers, approves and publishes it; then:
export (verify, digest, sign, write), import in the city (verify signature, stream SM3, register in
MLflow, sign locally, record), and the SM3 / SM2 parts on their own. The format is also timed on a
100 MB member against a bare tar write and read without digests or signatures, measured in the same run.

Run ``.venv/bin/python bench/bundle_exchange.py [--entities 3000]``; one ``name=value`` line per figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from warehouse.library_env import apply_library_defaults

T = TypeVar("T")
LARGE_MEMBER_BYTES = 100 * 1024 * 1024


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _province(root: Path, entities: int) -> object:
    from algorithms.fire_risk import FireRisk
    from algorithms.testing import synthetic_training_set
    from experiments.training import run_training
    from registry.card import ModelCardUpdate
    from registry.lifecycle import approve, promote, submit
    from registry.models import register_version
    from warehouse.settings import Settings

    settings = Settings(data_dir=root)
    frame = synthetic_training_set(n_entities=entities, seed=11, positive_rate=0.08)
    run = run_training(settings, FireRisk(), frame, seed=3)
    version = register_version(settings, run_id=run.run_id, model_name="fire_risk", actor="scientist").version
    card = ModelCardUpdate(
        intended_use="bench", owner_department="bench", limitations="synthetic", classification="internal"
    )
    submit(settings, model_name="fire_risk", version=version, actor="scientist", card=card)
    approve(settings, model_name="fire_risk", version=version, actor="reviewer")
    promote(settings, model_name="fire_risk", version=version, alias="champion", actor="admin")
    return settings


def _model_exchange(scratch: Path, entities: int) -> list[str]:
    from registry.bundle import MANIFEST_MEMBER, unpack_bundle
    from registry.exchange import export_version, import_bundle
    from warehouse.nodes import this_node, trust_node, trusted_node_key
    from warehouse.security import ensure_node_key, keys_dir, sm2_sign, sm2_verify, sm3_file_hex
    from warehouse.settings import Settings
    from warehouse.tracking import mlflow_client

    province = _province(scratch / "province", entities)
    assert isinstance(province, Settings)
    city = Settings(data_dir=scratch / "city")
    trust_node(
        city, node_id=this_node(province).node_id, public_key_file=keys_dir(province) / "node_sm2.pub", actor="b"
    )
    city.data_dir.mkdir(parents=True, exist_ok=True)
    mlflow_client(city).search_experiments()  # the city's MLflow store is created here, not inside the import timing
    bundle = scratch / "fire_risk-champion.tar"
    exported, export_s = _timed(
        lambda: export_version(province, model_name="fire_risk", alias_or_version="champion", out=bundle, actor="b")
    )
    imported, import_s = _timed(lambda: import_bundle(city, bundle, actor="b"))
    _, again_s = _timed(lambda: import_bundle(city, bundle, actor="b"))
    _, bundle_sm3_s = _timed(lambda: sm3_file_hex(bundle))
    with tarfile.open(bundle) as archive:
        manifest = archive.extractfile(MANIFEST_MEMBER).read()  # type: ignore[union-attr]  # a regular member
    key = ensure_node_key(province)
    signature, sign_s = _timed(lambda: sm2_sign(key, manifest))
    _, verify_s = _timed(lambda: sm2_verify(key.public_key, manifest, signature))
    lookup = lambda key_id: trusted_node_key(city, key_id)  # noqa: E731  # a one-line key lookup
    _, unpack_s = _timed(lambda: unpack_bundle(bundle, scratch / "unpacked", public_key_for=lookup))
    onnx_bytes = (scratch / "unpacked" / "model" / "model.onnx").stat().st_size
    return [
        f"model_bundle_bytes={bundle.stat().st_size} onnx_bytes={onnx_bytes} members={len(exported.members)}",
        f"export_s={export_s:.3f} (fetch+verify, card, lineage, SM3 of members, SM2 sign, write)",
        f"import_s={import_s:.3f} (verify+unpack, MLflow run+logged model+version, local SM2 sign, record) "
        f"-> {imported.model_name} v{imported.version} {imported.state}",
        f"import_again_s={again_s:.3f} (idempotent: verify, then the existing version)",
        f"verify_unpack_s={unpack_s:.4f} (SM2 verify of the manifest + streaming SM3 of every member)",
        f"bundle_sm3_ms={bundle_sm3_s * 1000:.2f} sm2_sign_manifest_ms={sign_s * 1000:.2f} "
        f"sm2_verify_manifest_ms={verify_s * 1000:.2f}",
    ]


def _format_throughput(scratch: Path) -> list[str]:
    from registry.bundle import unpack_bundle, write_bundle
    from warehouse.security import generate_sm2_key_pair, sm3_file_hex

    member = scratch / "large.onnx"
    member.write_bytes(os.urandom(LARGE_MEMBER_BYTES))
    _, sm3_s = _timed(lambda: sm3_file_hex(member))
    key = generate_sm2_key_pair()
    signed = scratch / "signed.tar"
    _, write_s = _timed(
        lambda: write_bundle(
            signed, files={"model/model.onnx": member}, key=key, model_name="m", version="1", alias=None
        )
    )
    _, read_s = _timed(lambda: unpack_bundle(signed, scratch / "signed-out", public_key_for=lambda _: key.public_key))
    bare = scratch / "bare.tar"

    def bare_write() -> None:
        with tarfile.open(bare, "w") as archive:
            archive.add(member, arcname="model/model.onnx")

    def bare_read() -> None:
        with tarfile.open(bare, "r|") as archive:
            archive.extractall(scratch / "bare-out", filter="data")

    _, bare_write_s = _timed(bare_write)
    _, bare_read_s = _timed(bare_read)
    megabytes = LARGE_MEMBER_BYTES / 2**20
    return [
        f"sm3_file_mb_s={megabytes / sm3_s:.0f} (OpenSSL SM3 alone on the same 100 MB: the bound for both lines below)",
        f"format_write_mb_s={megabytes / write_s:.0f} baseline=bare_tar_write mb_s={megabytes / bare_write_s:.0f} "
        f"ratio={write_s / bare_write_s:.2f}",
        f"format_verify_read_mb_s={megabytes / read_s:.0f} "
        f"baseline=bare_tar_extract mb_s={megabytes / bare_read_s:.0f} "
        f"ratio={read_s / bare_read_s:.2f}",
    ]


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=3000, help="Buildings in the synthetic training set.")
    arguments = parser.parse_args()
    apply_library_defaults()
    with tempfile.TemporaryDirectory(prefix="bundle-bench-") as scratch:
        lines = _model_exchange(Path(scratch), arguments.entities) + _format_throughput(Path(scratch))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
