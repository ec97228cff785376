"""MLflow tracking and registry, pointed at this node's store.

``experiments`` (which logs runs) and ``registry`` (which governs versions) both talk to MLflow
through :func:`mlflow_client`, so the URIs come from settings in one place. MLflow is imported here
lazily: importing this module is free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
