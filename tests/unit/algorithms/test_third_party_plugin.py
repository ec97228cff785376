"""A third-party algorithm package, installed for real, is listed, trained, registered and served.

The package under ``tests/data/plugins/warehouse_elevator_safety`` brings an algorithm
(``warehouse.algorithms``) and its own population, feature views, service and generator
(``warehouse.features``). It is built into a wheel with the standard library and installed with uv
into a scratch site directory; ``importlib.metadata`` finds its entry points wherever that
directory is on the path. Nothing in the platform names it. A fresh ``warehouse`` process with
``PYTHONPATH`` pointing there lists it; the rest runs in this process with the directory on
``sys.path`` (a subprocess per step costs minutes on a busy machine), through the same CLI
commands and HTTP app, and everything the package added is removed again afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.auth_helpers import caller_headers
from tests.unit.algorithms.plugin_wheel import REPOSITORY, build_wheel, install_wheel
from tests.unit.warehouse.test_serve_command import WAREHOUSE
from warehouse.api import create_app
from warehouse.cli import app
from warehouse.settings import Settings

PLUGIN_PROJECT = REPOSITORY / "tests" / "data" / "plugins" / "warehouse_elevator_safety"
ALGORITHM = "elevator_safety"
ELEVATORS = 300
SEED = 7


@dataclass(frozen=True)
class Installed:
    site: Path
    environment: dict[str, str]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The plug-in's wheel installed into a scratch site directory, and an environment that sees it."""
    root = tmp_path_factory.mktemp("plugin")
    wheel = build_wheel(PLUGIN_PROJECT, root / "dist")
    site = root / "site"
    install_wheel(wheel, site)
    environment = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return Installed(site=site, environment=environment)


def _wait_ready(client: TestClient, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (response := client.get("/v2/health/ready")).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {timeout_s} s: {response.status_code} {response.text}")
        time.sleep(0.05)


def _warehouse(installed: Installed, *arguments: str) -> str:
    completed = subprocess.run(
        [WAREHOUSE, *arguments], env=installed.environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def _forget_discoveries() -> None:
    from algorithms.catalogue import reload_catalogue
    from features.definitions import reload_feature_packages

    reload_catalogue()
    reload_feature_packages()


@pytest.fixture(scope="module")
def on_path(installed: Installed) -> Iterator[Path]:
    """The site directory on ``sys.path`` of this process; the package's modules are unloaded after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(installed.site))
        _forget_discoveries()
        yield installed.site
    for module in [name for name in sys.modules if name.split(".")[0] == "elevator_safety"]:
        del sys.modules[module]
    _forget_discoveries()


def _cli(*arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def trained(on_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """A data dir where the plug-in's population was prepared and its algorithm trained, and train's output."""
    data_dir = tmp_path_factory.mktemp("plugin-warehouse") / "wh"
    common = ("--data-dir", str(data_dir))
    _cli(*common, "features", "prepare", "--population", "elevators", "--entities", str(ELEVATORS))
    output = _cli(*common, "train", ALGORITHM, "--seed", str(SEED))
    return Settings(data_dir=data_dir), output


def test_the_wheel_holds_the_package_and_both_entry_points(installed: Installed) -> None:
    (dist_info,) = installed.site.glob("warehouse_elevator_safety-0.1.0.dist-info")
    entry_points = (dist_info / "entry_points.txt").read_text(encoding="utf-8")
    assert "[warehouse.algorithms]\nelevator_safety = elevator_safety.algorithm:ElevatorSafety" in entry_points
    assert "[warehouse.features]\nelevators = elevator_safety.features:ELEVATOR_FEATURES" in entry_points
    assert (installed.site / "elevator_safety" / "algorithm.py").is_file()


def test_only_the_installed_package_adds_the_algorithm_to_the_list(installed: Installed) -> None:
    assert "elevator_safety" not in sys.modules
    assert ALGORITHM not in _cli("algorithms", "list")

    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
        for line in _warehouse(installed, "algorithms", "list").splitlines()
        if line.count("│") > 2
    }
    assert rows[ALGORITHM][:4] == [ALGORITHM, "elevator_id", "elevator_safety", "binary"]
    assert rows[ALGORITHM][4].startswith("low < medium < high < critical")
    assert {"fire_risk", "credit_supervision", "risk_scoring"} <= set(rows)


def test_train_registers_an_approved_champion_of_the_plugin(trained: tuple[Settings, str]) -> None:
    from registry.lifecycle import get_state
    from registry.models import list_aliases

    settings, output = trained
    assert f"{ALGORITHM} v1 -> alias champion" in output
    assert list_aliases(settings, ALGORITHM) == {"champion": "1"}
    assert get_state(settings, model_name=ALGORITHM, version="1").state == "published"
    roc_auc = float(output.split("roc_auc=")[1].split(",")[0])
    assert roc_auc > 0.6


def test_the_served_plugin_scores_its_own_entities_with_its_own_reasons(trained: tuple[Settings, str]) -> None:
    settings, _output = trained
    headers = caller_headers(settings, "app", grants=[ALGORITHM], name="elevator-dashboard")
    with TestClient(create_app(settings), headers=headers) as client:
        _wait_ready(client)
        body = {"entities": ["L0000001", "L9999999"], "explain": True}
        response = client.post(f"/v1/score/{ALGORITHM}", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["algorithm"], answer["model_name"], answer["model_version"]) == (ALGORITHM, ALGORITHM, "1")
    found, unknown = answer["results"]
    assert found["entity_id"] == "L0000001"
    assert 0.0 <= found["score"] <= 1.0
    assert found["level"] in {"low", "medium", "high", "critical"}
    descriptions = {
        "elevator_age_years": "Years in service",
        "floors_served": "Floors served",
        "rated_load_kg": "Rated load in kg",
        "daily_trips": "Mean trips per day last month",
        "days_since_maintenance": "Days since the last maintenance visit",
        "faults_90d": "Faults reported in the last 90 days",
        "entrapments_12m": "Entrapments in the last 12 months",
        "inspection_overdue": "Statutory annual inspection overdue, 1 = yes",
    }
    assert found["reasons"]
    for reason in found["reasons"]:
        assert reason["text"].startswith(descriptions[reason["feature"]] + ": ")
    assert unknown["error"]["code"] == "entity_not_found"
