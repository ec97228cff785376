"""A prepared data dir with two logged fire-risk training runs, copied for every registry test."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, synthetic_training_set
from experiments.training import run_training
from registry.card import ModelCardUpdate
from registry.lifecycle import approve, submit
from warehouse.db import MetadataDB
from warehouse.settings import Settings


@dataclass(frozen=True)
class PreparedRuns:
    """A data dir and the ids of the training runs logged in it."""

    root: Path
    run_ids: tuple[str, ...]


@pytest.fixture(scope="session")
def prepared_runs(tmp_path_factory: pytest.TempPathFactory) -> PreparedRuns:
    """Two tiny fire-risk runs (seeds 1 and 2) and a metadata DB at schema head."""
    root = tmp_path_factory.mktemp("registry-prepared")
    settings = Settings(data_dir=root)
    frame = synthetic_training_set(n_entities=40, seed=5, positive_rate=0.10)
    run_ids = tuple(
        run_training(settings, FireRisk(), frame, seed=seed, params=FAST_FIRE_RISK_PARAMS).run_id for seed in (1, 2)
    )
    db = MetadataDB.from_settings(settings)
    db.upgrade_schema()
    db.dispose()
    return PreparedRuns(root=root, run_ids=run_ids)


@pytest.fixture
def registry_settings(prepared_runs: PreparedRuns, tmp_path: Path) -> Settings:
    """Settings over a private copy of the prepared data dir."""
    shutil.copytree(prepared_runs.root, tmp_path / "wh")
    return Settings(data_dir=tmp_path / "wh")


COMPLETE_CARD = ModelCardUpdate(
    intended_use="Triage of building fire inspections",
    owner_department="fire brigade",
    limitations="Synthetic training data",
    classification="internal",
)


def approve_version(settings: Settings, version: str, *, name: str = "fire_risk", reviewer: str = "reviewer") -> None:
    """Submit (by ``scientist``, completing the card) and approve (by ``reviewer``) one version."""
    submit(settings, model_name=name, version=version, actor="scientist", reason="ready", card=COMPLETE_CARD)
    approve(settings, model_name=name, version=version, actor=reviewer, reason="looks right")
