"""``warehouse features prepare --population``: any population, generated, applied and materialised."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from features.datasets import load_manifest
from warehouse.cli import app
from warehouse.settings import Settings


def test_prepare_generates_and_materialises_the_named_population(tmp_path: Path) -> None:
    arguments = ["--data-dir", str(tmp_path), "features", "prepare", "--population", "market_entities"]
    result = CliRunner().invoke(app, [*arguments, "--entities", "120", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "120 market_entities x 24 months" in result.output
    assert "materialised 480 rows" in result.output  # 120 entities x 4 views
    manifest = load_manifest(Settings(data_dir=tmp_path), "market_entities")
    assert (manifest.n_entities, manifest.seed, manifest.entity_key) == (120, 3, "market_entity_id")


def test_prepare_refuses_an_unknown_population(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "features", "prepare", "--population", "ships"])
    assert result.exit_code == 1
    assert "unknown population 'ships'" in str(result.exception)
