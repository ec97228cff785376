"""Settings: sources and their order, derived locations, validation, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from warehouse.settings import Settings


def test_defaults_derive_every_location_from_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "node")
    assert settings.data_dir == (tmp_path / "node").resolve()
    assert settings.metadata_url == f"sqlite:///{tmp_path}/node/warehouse.db"
    assert settings.mlflow_uri.startswith("sqlite:////")
    assert settings.mlflow_uri.endswith("/node/mlflow.db")
    assert settings.feature_repo_dir == settings.data_dir / "feature_repo"
    assert settings.mlflow_artifacts_uri == (settings.data_dir / "mlartifacts").as_uri()


def test_relative_data_dir_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(data_dir=Path("rel")).data_dir == tmp_path / "rel"


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse.toml").write_text('port = 9001\nfeast_project = "from_toml"\n')
    monkeypatch.setenv("WAREHOUSE_PORT", "9002")
    settings = Settings()
    assert settings.port == 9002
    assert settings.feast_project == "from_toml"


def test_unknown_keys_and_bad_values_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "warehouse.toml").write_text("no_such_setting = 1\n")
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings()
    (tmp_path / "warehouse.toml").unlink()
    with pytest.raises(ValidationError, match="online_store"):
        Settings(online_store="memcached")  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(ValidationError, match="feast_project"):
        Settings(feast_project="1-bad")


def test_database_urls_are_secret_in_repr(tmp_path: Path) -> None:
    url = "postgresql+psycopg://user:hunter2@db/warehouse"
    settings = Settings(data_dir=tmp_path, database_url=url, mlflow_tracking_uri=url)
    assert "hunter2" not in repr(settings)
    assert settings.metadata_url == url
    assert settings.mlflow_uri == url


def test_ensure_dirs_is_idempotent(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    settings.ensure_dirs()
    settings.ensure_dirs()
    assert {path.name for path in settings.data_dir.iterdir()} >= {"datasets", "feature_repo", "results", "runtime"}
