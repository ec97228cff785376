"""Opening the Feast feature store, applying definitions, materialising the latest values.

The ``RepoConfig`` is built in code from settings each time a store is opened, never read from a
``feature_store.yaml``: paths inside the data dir are resolved at open time, so a copied or moved
data dir keeps working. Feast's DuckDB offline store reads the absolute source paths recorded in
the registry, so :func:`open_feature_store` re-applies the definitions whenever the registered ones
differ from the code's (a moved data dir, a changed view). Feast is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict

from features.datasets import MANIFEST_FILE, load_manifest, population_dir, table_path
from features.definitions import POPULATIONS, SERVICES, service_spec
from warehouse.errors import ConfigurationError, DatasetNotFound
from warehouse.progress import ProgressCallback, no_progress
from warehouse.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore, RepoConfig

logger = logging.getLogger(__name__)

REGISTRY_FILE = "registry.db"
ONLINE_STORE_FILE = "online_store.db"
REGISTRY_CACHE_TTL_S = 60


class MaterializeReport(BaseModel):
    """What :func:`materialize_latest` wrote into the online store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str
    online_store: str
    rows_per_view: dict[str, int]
    seconds_per_view: dict[str, float]
    seconds: float


def redis_connection_string(url: str) -> str:
    """Turn ``redis[s]://[user:password@]host:port/db`` into Feast's ``host:port,db=N,...`` form."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigurationError("redis_url must look like redis://[user:password@]host:port/db")
    fields = [f"{parts.hostname}:{parts.port or 6379}"]
    database = parts.path.lstrip("/")
    if database:
        fields.append(f"db={database}")
    if parts.username:
        fields.append(f"username={unquote(parts.username)}")
    if parts.password:
        fields.append(f"password={unquote(parts.password)}")
    if parts.scheme == "rediss":
        fields.append("ssl=true")
    return ",".join(fields)


def _online_store_config(settings: Settings) -> dict[str, str]:
    if settings.online_store == "sqlite":
        return {"type": "sqlite", "path": str(settings.feature_repo_dir / ONLINE_STORE_FILE)}
    if settings.redis_url is None:
        raise ConfigurationError("online_store is 'redis' but redis_url is not set")
    return {"type": "redis", "connection_string": redis_connection_string(settings.redis_url.get_secret_value())}


def _registry_config(settings: Settings) -> dict[str, str | int]:
    if settings.feast_registry_url is not None:
        url = settings.feast_registry_url.get_secret_value()
        return {"registry_type": "sql", "path": url, "cache_ttl_seconds": REGISTRY_CACHE_TTL_S}
    path = str(settings.feature_repo_dir / REGISTRY_FILE)
    return {"registry_type": "file", "path": path, "cache_ttl_seconds": REGISTRY_CACHE_TTL_S}


def repo_config(settings: Settings) -> RepoConfig:
    """Feast's configuration for this node, with every path resolved under the current data dir."""
    from feast import RepoConfig

    return RepoConfig(
        project=settings.feast_project,
        provider="local",
        registry=_registry_config(settings),
        online_store=_online_store_config(settings),
        offline_store={"type": "duckdb"},
        repo_path=settings.feature_repo_dir,
        entity_key_serialization_version=3,
    )


def _feature_store(settings: Settings) -> FeatureStore:
    from feast import FeatureStore

    settings.feature_repo_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(settings), repo_path=str(settings.feature_repo_dir))


def _registered_definitions_current(store: FeatureStore, settings: Settings) -> bool:
    """Whether the registry holds every view and service, reading from the current data dir."""
    from features.definitions.repo import expected_sources

    sources = expected_sources(settings)
    registered = {view.name: view for view in store.list_feature_views()}
    generated = _generated_populations(settings)
    for population in (POPULATIONS[name] for name in generated):
        for view in population.views:
            current = registered.get(view.name)
            if current is None or getattr(current.batch_source, "path", None) != sources[view.name]:
                return False
            if [feature.name for feature in current.features] != view.feature_names:
                return False
    services = {service.name for service in store.list_feature_services()}
    return {name for name, service in SERVICES.items() if service.population.name in generated} <= services


def _generated_populations(settings: Settings) -> list[str]:
    return [name for name in POPULATIONS if (population_dir(settings, name) / MANIFEST_FILE).is_file()]


def _apply(store: FeatureStore, settings: Settings) -> None:
    from features.definitions.repo import feast_objects

    started = time.perf_counter()
    store.apply(feast_objects(settings, _generated_populations(settings)))
    logger.info("applied feature definitions in %.2f s", time.perf_counter() - started)


def open_feature_store(settings: Settings) -> FeatureStore:
    """Open the node's feature store; re-apply the definitions when the registered ones are stale."""
    store = _feature_store(settings)
    if _generated_populations(settings) and not _registered_definitions_current(store, settings):
        _apply(store, settings)
    return store


def apply_definitions(settings: Settings) -> None:
    """Register the entities, feature views and services of every generated population (idempotent)."""
    if not _generated_populations(settings):
        raise DatasetNotFound(f"population data has not been generated in {settings.datasets_dir}")
    _apply(_feature_store(settings), settings)


def _latest_window(settings: Settings, population: str) -> tuple[datetime, datetime]:
    """From one ttl before the last snapshot to just after it: every entity's latest values."""
    last = load_manifest(settings, population).last_snapshot
    return last - POPULATIONS[population].ttl, last + timedelta(seconds=1)


def _count_rows(settings: Settings, population: str, table: str, start: datetime, end: datetime) -> int:
    """Entities with a snapshot in the window: the rows a materialisation writes for a view."""
    import duckdb

    key = POPULATIONS[population].entity_key
    query = f"SELECT count(DISTINCT {key}) FROM read_parquet(?) WHERE event_timestamp >= ? AND event_timestamp <= ?"
    with duckdb.connect() as connection:
        row = connection.execute(query, [str(table_path(settings, population, table)), start, end]).fetchone()
    return int(row[0]) if row else 0


def _materialize_view(store: FeatureStore, view: str, start: datetime, end: datetime) -> None:
    # Feast prints a coloured banner and tqdm bars; the caller reports progress its own way.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        store.materialize(start_date=start, end_date=end, feature_views=[view])


def materialize_latest(
    settings: Settings, *, populations: Sequence[str] | None = None, on_progress: ProgressCallback | None = None
) -> MaterializeReport:
    """Write the latest values of the feature views of ``populations`` (default: every generated one) online."""
    progress = on_progress or no_progress
    generated = _generated_populations(settings)
    populations = generated if populations is None else [name for name in populations if name in generated]
    if not populations:
        raise DatasetNotFound(f"no population has been generated in {settings.datasets_dir}")
    store = open_feature_store(settings)
    started = time.perf_counter()
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    progress(0, sum(len(POPULATIONS[population].views) for population in populations))
    for population in populations:
        start, end = _latest_window(settings, population)
        for view in POPULATIONS[population].views:
            view_started = time.perf_counter()
            _materialize_view(store, view.name, start, end)
            seconds[view.name] = round(time.perf_counter() - view_started, 3)
            rows[view.name] = _count_rows(settings, population, view.table, start, end)
            progress(1)
    return MaterializeReport(
        project=settings.feast_project,
        online_store=settings.online_store,
        rows_per_view=rows,
        seconds_per_view=seconds,
        seconds=round(time.perf_counter() - started, 3),
    )


def registered_feature_service(store: FeatureStore, feature_service: str) -> FeatureService:
    """The registered feature service; unknown names raise ``InvalidRequest``, unregistered ``DatasetNotFound``."""
    from feast.errors import FeatureServiceNotFoundException

    service_spec(feature_service)
    try:
        return store.get_feature_service(feature_service)
    except FeatureServiceNotFoundException:
        raise DatasetNotFound(
            f"feature service {feature_service!r} is not registered; generate its population and apply definitions"
        ) from None


def service_feature_names(service: FeatureService) -> list[str]:
    """Feature names of a registered service, in service order."""
    return [feature.name for projection in service.feature_view_projections for feature in projection.features]
