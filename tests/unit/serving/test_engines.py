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


class _Handle:
    """Stands in for a model deployment's handle: placement only asks it for per-version options."""

    def options(self, **_options: object) -> _Handle:
        return self


@pytest.mark.parametrize(("spare_bytes", "in_ingress"), [(0, True), (-1, False)])
def test_the_ingress_holds_versions_whose_onnx_file_fits_its_limit(
    settings: Settings, spare_bytes: int, in_ingress: bool
) -> None:
    from registry.models import fetch_model, resolve_version
    from serving.engines.ray_deployments import DeployedOnnxModel, placed_opener

    artifact = fetch_model(settings, resolve_version(settings, model_name="fire_risk", alias_or_version="champion"))
    size = artifact.onnx_path.stat().st_size
    limited = settings.model_copy(update={"ray_ingress_model_max_bytes": size + spare_bytes})
    model = placed_opener(limited, _Handle())(artifact)  # type: ignore[arg-type]  # placement needs only .options
    assert isinstance(model, DeployedOnnxModel) is not in_ingress
    assert model.version == artifact.ref.version


def test_by_default_every_version_runs_in_the_model_deployment(settings: Settings) -> None:
    from registry.models import fetch_model, resolve_version
    from serving.engines.ray_deployments import DeployedOnnxModel, placed_opener

    artifact = fetch_model(settings, resolve_version(settings, model_name="fire_risk", alias_or_version="champion"))
    assert settings.ray_ingress_model_max_bytes == 0
    assert isinstance(placed_opener(settings, _Handle())(artifact), DeployedOnnxModel)  # type: ignore[arg-type]
