"""Shared fixtures: library switches, a prepared warehouse copied per test, real PostgreSQL and Redis.

The prepared warehouse (features online plus one approved fire-risk champion, built from a small
seeded population) is built once per session and copied for each test that asks for ``settings``.
Integration fixtures create a fresh PostgreSQL database or Redis key prefix per use and drop it after;
Ray tests share one local Ray (and one Serve) started for the session; ``tests/engines.py``
serves the app by either engine. ``auth_headers`` and ``admin_headers`` give
API keys over ``settings`` (see ``tests/auth_helpers.py``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import caller_headers
from warehouse.library_env import LIBRARY_DEFAULTS
from warehouse.settings import Settings

PREPARED_BUILDINGS = 400
PREPARED_SEED = 7
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
RAY_OBJECT_STORE_BYTES = 256 * 1024**2

pytest_plugins = ["tests.engines"]  # the app served by either engine, for every HTTP test


@pytest.fixture(scope="session", autouse=True)
def _library_defaults() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIBRARY_DEFAULTS.items():
            if name not in os.environ:
                patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def prepared_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding features (offline and online) and a fire-risk champion."""
    from warehouse.pipeline import build_demo_warehouse

    root = tmp_path_factory.mktemp("prepared")
    build_demo_warehouse(Settings(data_dir=root), n_buildings=PREPARED_BUILDINGS, seed=PREPARED_SEED)
    return root


@pytest.fixture
def settings(prepared_warehouse: Path, tmp_path: Path) -> Settings:
    """Settings over a private copy of the prepared warehouse."""
    shutil.copytree(prepared_warehouse, tmp_path / "wh")
    return Settings(data_dir=tmp_path / "wh")


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One local Ray for the whole test session, started here and shut down here (never ``ray stop``)."""
    import ray

    if ray.is_initialized():
        pytest.fail("Ray is already initialised in the test process; only this fixture may start it")
    ray.init(
        address="local",  # never attach to another Ray on this machine
        _temp_dir=str(tmp_path_factory.mktemp("ray")),
        include_dashboard=False,
        object_store_memory=RAY_OBJECT_STORE_BYTES,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        from ray import serve

        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="session")
def ray_serve(ray_session: None) -> None:
    """Serve's controller and HTTP proxy on the session's Ray, started once (on a free port, no access logs)
    so that each test application only deploys and deletes itself; ``ray_session`` shuts Serve down."""
    import socket

    from ray import serve

    from serving.engines.ray import QUIET_LOGS

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port}, logging_config=QUIET_LOGS)


@pytest.fixture
def auth_headers(settings: Settings) -> Callable[..., dict[str, str]]:
    """Factory: ``auth_headers("reviewer", clearance="internal")`` -> headers of a new key with those roles."""

    def make(*roles: str, **options: Any) -> dict[str, str]:
        return caller_headers(settings, *roles, **options)

    return make


@pytest.fixture
def admin_headers(settings: Settings) -> dict[str, str]:
    """Headers of an ``admin`` key (clearance restricted) over ``settings``."""
    return caller_headers(settings, "admin", name="test-admin")


@pytest.fixture
def postgres_database() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL databases (SQLAlchemy URLs); every one is dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create() -> str:
        name = f"wh_test_{uuid.uuid4().hex[:16]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield create
    with admin.connect() as connection:
        for name in created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_project() -> Iterator[str]:
    """A Feast project name unique to this test; every Redis key it wrote is deleted afterwards."""
    import redis

    project = f"wh_{uuid.uuid4().hex[:12]}"
    yield project
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key for key in client.scan_iter(count=1000) if project.encode() in key]
        if keys:
            client.delete(*keys)
    finally:
        client.close()
