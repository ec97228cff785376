"""Which model versions this server holds, found by algorithm and alias.

On start the repository loads the ``champion`` of every installed algorithm that has one; any other
alias or version is resolved and loaded on first use and cached. Loading happens off the request
path (a background thread at start-up), and :attr:`ModelRepository.ready` turns true when that pass
has finished with at least one model loaded.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from warehouse.errors import ModelNotFound, ModelNotReady

if TYPE_CHECKING:
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"


class ModelRepository:
    """Loaded ONNX models keyed by (model name, version), with an alias map per model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[tuple[str, str], OnnxModel] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._lock = threading.RLock()
        self._startup_done = threading.Event()
        self.startup_error: str | None = None

    @property
    def ready(self) -> bool:
        """True when the start-up load finished and at least one model is loaded."""
        return self._startup_done.is_set() and bool(self._models)

    def wait_for_startup(self, timeout_s: float) -> bool:
        """Block until the start-up load pass has finished; False if it did not within ``timeout_s``."""
        return self._startup_done.wait(timeout_s)

    def loaded(self) -> list[OnnxModel]:
        """Every loaded model version."""
        with self._lock:
            return list(self._models.values())

    def load_champions(self) -> None:
        """Load the champion of every installed algorithm that has one (start-up pass)."""
        from algorithms.catalogue import list_algorithms

        try:
            for algorithm in list_algorithms():
                try:
                    self.get(algorithm.name, DEFAULT_ALIAS)
                except ModelNotFound as exc:
                    logger.info("no champion for %s yet: %s", algorithm.name, exc.message)
        except Exception as exc:
            self.startup_error = f"{type(exc).__name__}: {exc}"
            logger.exception("loading champions failed")
            raise
        finally:
            self._startup_done.set()

    def get(self, model_name: str, alias_or_version: str) -> OnnxModel:
        """The loaded model for an alias or version, loading it on first use."""
        with self._lock:
            version = self._aliases.get((model_name, alias_or_version), alias_or_version)
            model = self._models.get((model_name, version))
        if model is not None:
            return model
        return self._load(model_name, alias_or_version)

    def _load(self, model_name: str, alias_or_version: str) -> OnnxModel:
        from registry.models import fetch_model, resolve_version
        from serving.runtime import OnnxModel

        ref = resolve_version(self.settings, model_name=model_name, alias_or_version=alias_or_version)
        with self._lock:
            model = self._models.get((model_name, ref.version))
        if model is None:
            model = OnnxModel(fetch_model(self.settings, ref))
            model.load()
        if not model.ready:
            raise ModelNotReady(f"{model_name} v{ref.version} failed to load")
        with self._lock:
            self._models[(model_name, ref.version)] = model
            if not alias_or_version.isdigit():
                self._aliases[(model_name, alias_or_version)] = ref.version
        return model
