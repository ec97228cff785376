"""One settings object for the whole warehouse.

Values come from (highest first) constructor arguments, ``WAREHOUSE_*`` environment variables, an
optional ``warehouse.toml`` in the working directory, and the defaults below. Every location inside
the data dir is derived at access time, so that a copied data dir stands on its own. Importing this
module reads nothing; call :func:`get_settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

OnlineStoreKind = Literal["sqlite", "redis"]
EngineKind = Literal["local", "ray"]


class Settings(BaseSettings):
    """Every path, URL and knob of a warehouse node."""

    model_config = SettingsConfigDict(
        env_prefix="WAREHOUSE_",
        env_ignore_empty=True,
        extra="forbid",
        toml_file="warehouse.toml",
    )

    data_dir: Path = Path(".warehouse")
    """Root of everything this node keeps on disk (datasets, stores, artifacts, keys)."""

    database_url: SecretStr | None = None
    """SQLAlchemy URL of the metadata DB; default: SQLite file ``warehouse.db`` in the data dir."""

    mlflow_tracking_uri: SecretStr | None = None
    """MLflow tracking and registry store; default: SQLite file ``mlflow.db`` in the data dir."""

    mlflow_artifact_location: str | None = None
    """Where new MLflow experiments keep artifacts; default: ``mlartifacts/`` in the data dir."""

    feast_project: str = "warehouse"
    """Feast project name; it also prefixes every online-store key (one prefix per node or test run)."""

    feast_registry_url: SecretStr | None = None
    """SQL URL for a shared Feast registry (PostgreSQL); default: a registry file in the data dir."""

    online_store: OnlineStoreKind = "sqlite"
    """Feast online store: ``sqlite`` (file in the data dir) or ``redis`` (needs ``redis_url``)."""

    redis_url: SecretStr | None = None
    """Redis for the online store, e.g. ``redis://127.0.0.1:6379/0``; required when online_store is redis."""

    host: str = "127.0.0.1"
    """Interface the HTTP server binds."""

    port: int = Field(default=8080, ge=0, le=65535)
    """Port the HTTP server binds; 0 picks a free port and logs it."""

    engine: EngineKind = "local"
    """Serving engine: ``local`` (uvicorn + ONNX Runtime in-process) or ``ray`` (Ray Serve)."""

    ray_address: str | None = None
    """Ray cluster the ray engine joins (``auto``, ``host:6379``, ``ray://host:10001``); default: start a local one."""

    ray_replica_num_cpus: float = Field(default=0.25, gt=0)
    """Logical CPUs each Ray Serve replica reserves (fractional, so that several fit on a small node)."""

    ray_min_replicas: int = Field(default=1, ge=1)
    """Autoscaling floor of the Ray engine's ingress and model deployments."""

    ray_max_replicas: int = Field(default=2, ge=1)
    """Autoscaling ceiling of the Ray engine's ingress and model deployments."""

    ray_target_ongoing_requests: float = Field(default=16.0, gt=0)
    """Requests in flight per replica that Ray Serve's autoscaler aims at."""

    ray_max_batch_size: int = Field(default=32, gt=0)
    """Most scoring requests a model replica runs through ONNX Runtime at once (``@serve.batch``)."""

    ray_batch_wait_timeout_ms: float = Field(default=0.0, ge=0)
    """How long a model replica waits for a batch to fill before it runs what it has. At 0 a batch is
    what queued while the previous one ran: full batches under load, no wait for a lone request."""

    ray_max_models_per_replica: int = Field(default=4, gt=0)
    """Model versions one model replica keeps loaded (least recently used go first; ``@serve.multiplexed``)."""

    ray_ingress_model_max_bytes: int = Field(default=0, ge=0)
    """Versions whose ONNX file is at most this many bytes run in the ingress replicas themselves: one
    process hop fewer per request, but every ingress replica holds each of them and nothing is batched.
    Bigger ones (all of them at the default 0) run in the model deployment, multiplexed and batched."""

    ray_batch_actors: int = Field(default=2, ge=1)
    """Scoring actors of the Ray batch executor (each holds one ONNX Runtime session)."""
    ray_batch_readers: int = Field(default=2, ge=1)
    """Ray tasks of the Ray batch executor reading feature chunks at once (each runs one DuckDB
    query under ``batch_read_memory_mb``)."""
    ray_batch_cpus: float = Field(default=0.25, gt=0)
    """Logical CPUs each scoring actor and reading task of the Ray batch executor asks for
    (fractional, so that it never takes every CPU: Ray Data stalls when actors hold them all)."""

    batch_chunk_rows: int = Field(default=20_000, gt=0)
    """Entities scored per chunk by the batch executor; bounds its memory."""
    batch_read_memory_mb: int = Field(default=512, ge=64)
    """Memory limit of DuckDB when the batch executor reads the latest feature values (it spills past it)."""

    alert_redis_url: SecretStr | None = None
    """Redis that jobs' alert streams are XADDed to; default: ``redis_url``."""

    max_entities_per_request: int = Field(default=1_000, gt=0)
    """Largest ``entities`` or ``features`` list one scoring request may carry."""

    max_request_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    """Largest HTTP request body the API accepts; a larger one is answered 413 ``payload_too_large``."""

    request_timeout_s: float = Field(default=30.0, gt=0)
    """Longest an HTTP request may take before it is answered 504 ``request_timeout``."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of the warehouse's own loggers."""

    console_language: Literal["zh", "en"] = "zh"
    """Language of the web console's labels under ``/console``: Chinese (default) or English."""

    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    """How long a web-console sign-in lasts (never beyond the expiry of the key it came from)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Constructor arguments, then environment, then ``warehouse.toml``."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("feast_project")
    @classmethod
    def _valid_feast_project(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or not value[0].isalpha():
            raise ValueError("feast_project must start with a letter and hold only letters, digits, _")
        return value

    # Derived locations: computed on access, never stored, so a moved data dir keeps working.
    @property
    def datasets_dir(self) -> Path:
        """Parquet datasets generated or ingested into this node."""
        return self.data_dir / "datasets"

    @property
    def feature_repo_dir(self) -> Path:
        """Feast repo: ``feature_store.yaml`` and the file registry."""
        return self.data_dir / "feature_repo"

    @property
    def results_dir(self) -> Path:
        """Batch-scoring outputs."""
        return self.data_dir / "results"

    @property
    def runtime_dir(self) -> Path:
        """Scratch space of running processes (Ray temp dir, downloaded artifacts)."""
        return self.data_dir / "runtime"

    @property
    def metadata_url(self) -> str:
        """SQLAlchemy URL of the metadata DB."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'warehouse.db'}"

    @property
    def mlflow_uri(self) -> str:
        """MLflow tracking URI (absolute SQLite paths take four slashes)."""
        if self.mlflow_tracking_uri is not None:
            return self.mlflow_tracking_uri.get_secret_value()
        return f"sqlite:///{self.data_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts_uri(self) -> str:
        """Artifact location for MLflow experiments created by this node."""
        if self.mlflow_artifact_location is not None:
            return self.mlflow_artifact_location
        return (self.data_dir / "mlartifacts").as_uri()

    def ensure_dirs(self) -> None:
        """Create the data dir layout (idempotent)."""
        for path in (self.data_dir, self.datasets_dir, self.feature_repo_dir, self.results_dir, self.runtime_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment and ``warehouse.toml``."""
    return Settings()
