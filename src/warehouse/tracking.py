"""MLflow tracking and registry, pointed at this node's store.

``experiments`` (which logs runs) and ``registry`` (which governs versions) both talk to MLflow
through :func:`mlflow_client`, so the URIs come from settings in one place. MLflow is imported here
lazily: importing this module is free.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from warehouse.settings import Settings


def mlflow_client(settings: Settings) -> MlflowClient:
    """A client bound to this node's tracking and registry store (module-level MLflow set too)."""
    import mlflow
    from mlflow import MlflowClient

    uri = settings.mlflow_uri
    if settings.mlflow_tracking_uri is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        relocate_embedded_store(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(settings: Settings, name: str) -> str:
    """The id of experiment ``name``, created with this node's artifact location if missing."""
    client = mlflow_client(settings)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(client.create_experiment(name, artifact_location=settings.mlflow_artifacts_uri))


# Columns where MLflow records absolute artifact locations.
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
)
LOCATION_MARKER = "mlflow.location"
"""File in the data dir naming the artifact root the embedded MLflow store last recorded."""
_RELOCATION_LOCK = threading.Lock()


def relocate_embedded_store(settings: Settings) -> None:
    """Point the embedded MLflow store's recorded artifact locations at the data dir's current place.

    MLflow stores absolute locations. When a data dir is copied or moved (a node moved to a new disk,
    a prepared warehouse copied for a test), they would still name the old place; this rewrites the
    old prefix to the new one, once, the first time the store is opened from its new place.
    """
    if settings.mlflow_artifact_location is not None:
        return
    marker = settings.data_dir / LOCATION_MARKER
    current = settings.mlflow_artifacts_uri
    # Threads of one server open the store at once: the marker is written only when it changes, and
    # atomically, so that no reader ever sees it empty (an empty prefix would match every location).
    with _RELOCATION_LOCK:
        previous = marker.read_text(encoding="utf-8").strip() if marker.exists() else ""
        if previous == current:
            return
        database = settings.data_dir / "mlflow.db"
        if previous and database.exists():
            _rewrite_prefixes(database, old_uri=previous, new_uri=current)
        scratch = marker.with_name(f".{LOCATION_MARKER}.{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(current, encoding="utf-8")
        os.replace(scratch, marker)


def _rewrite_prefixes(database: Path, *, old_uri: str, new_uri: str) -> None:
    engine = create_engine(f"sqlite:///{database}")
    old_path, new_path = urlparse(old_uri).path, urlparse(new_uri).path
    try:
        with engine.begin() as connection:
            for table, column in _LOCATION_COLUMNS:
                for old, new in ((old_uri, new_uri), (old_path, new_path)):
                    connection.execute(
                        text(
                            f"UPDATE {table} SET {column} = :new || substr({column}, :cut) "
                            f"WHERE substr({column}, 1, :length) = :old"
                        ),
                        {"new": new, "old": old, "cut": len(old) + 1, "length": len(old)},
                    )
    finally:
        engine.dispose()
