"""The engine table: ``settings.engine`` picks the engine class; the Ray engine keeps its files in the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.engines import ray as ray_engine
from serving.engines.base import ENGINES, load_engine
from serving.engines.local import LocalEngine
from serving.engines.ray import MAX_RAY_TEMP_DIR_CHARS, RayEngine, _local_temp_dir
from warehouse.settings import Settings


@pytest.mark.parametrize(("name", "engine_class"), [("local", LocalEngine), ("ray", RayEngine)])
def test_settings_pick_the_engine(tmp_path: Path, name: str, engine_class: type) -> None:
    settings = Settings(data_dir=tmp_path, engine=name)
    engine = load_engine(settings)
    assert type(engine) is engine_class
    assert engine.settings is settings
    assert set(ENGINES) == {"local", "ray"}


def test_unknown_engine_is_refused_by_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="engine"):
        Settings(data_dir=tmp_path, engine="kubernetes")  # type: ignore[arg-type]  # the point of the test


def test_ray_files_live_in_the_data_dir_when_its_path_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ray_engine, "MAX_RAY_TEMP_DIR_CHARS", len(str(tmp_path)) + 40)
    settings = Settings(data_dir=tmp_path / "wh")
    with _local_temp_dir(settings) as temp_dir:
        assert temp_dir == settings.runtime_dir / "ray"
        assert temp_dir.is_dir()
    assert temp_dir.is_dir()  # Ray's logs stay with the warehouse


def test_ray_files_go_to_a_scratch_dir_removed_after_when_the_data_dir_path_is_long(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / ("long" * 20))
    with _local_temp_dir(settings) as temp_dir:
        assert len(str(temp_dir)) <= MAX_RAY_TEMP_DIR_CHARS
        assert temp_dir.is_dir()
    assert not temp_dir.exists()
    assert not (settings.runtime_dir / "ray").exists()
