"""The command line: fast start without heavy imports, one-line domain errors with exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from warehouse.cli import app

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import warehouse.cli, sys; print([m for m in ('ray', 'feast', 'mlflow', 'onnxruntime') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "demo", "serve", "train", "features", "models", "batch"):
        assert command in result.stdout


def test_domain_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [WAREHOUSE, "--data-dir", str(tmp_path), "batch", "score", "no_such_algorithm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "algorithm_not_found" in result.stderr
    assert "fire_risk" in result.stderr  # the message lists what is installed
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["train"])
    assert result.exit_code == 2


def test_init_creates_the_layout_and_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "wh"), "init"])
    assert result.exit_code == 0, result.stdout
    assert (tmp_path / "wh" / "warehouse.db").is_file()
    assert (tmp_path / "wh" / "feature_repo").is_dir()
