"""Every Ray the warehouse starts keeps its files in the data dir, or in a scratch dir when that path is too long."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse import ray_runtime
from warehouse.ray_runtime import MAX_RAY_TEMP_DIR_CHARS, local_temp_dir
from warehouse.settings import Settings


def test_ray_files_live_in_the_data_dir_when_its_path_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_runtime, "MAX_RAY_TEMP_DIR_CHARS", len(str(tmp_path)) + 40)
    settings = Settings(data_dir=tmp_path / "wh")
    with local_temp_dir(settings) as temp_dir:
        assert temp_dir == settings.runtime_dir / "ray"
        assert temp_dir.is_dir()
    assert temp_dir.is_dir()  # Ray's logs stay with the warehouse


def test_ray_files_go_to_a_scratch_dir_removed_after_when_the_data_dir_path_is_long(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / ("long" * 20))
    with local_temp_dir(settings) as temp_dir:
        assert len(str(temp_dir)) <= MAX_RAY_TEMP_DIR_CHARS
        assert temp_dir.is_dir()
    assert not temp_dir.exists()
    assert not (settings.runtime_dir / "ray").exists()
