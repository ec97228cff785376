"""The engine table: ``settings.engine`` picks the engine class."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.engines.base import ENGINES, load_engine
from serving.engines.local import LocalEngine
from serving.engines.ray import RayEngine
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
