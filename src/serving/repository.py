"""Which model versions this server holds, found by algorithm and alias.

On start the repository loads the ``champion`` of every installed algorithm that has one; any other
alias or version is resolved and loaded on first use and cached. Loading happens off the request
path (a background thread at start-up), and :attr:`ModelRepository.ready` turns true when that pass
has finished with at least one model loaded.

A watcher thread (:meth:`ModelRepository.start_watching`) polls the governance revision (a counter
that moves with every lifecycle step and alias move); when it moves, alias mappings are forgotten and
versions that are no longer approved or published (suspended, delisted) are dropped, so that a
suspension takes effect without a restart. The same pass forgets the cached rollout of each model
(:mod:`registry.rollout`: a change is audited, so it moves the revision) and the cached classification
levels (a card changes only through an audited step), so both are read from the database once per
model or version and governance change, never per request. Every revision read is also handed to
the listeners added with :meth:`ModelRepository.on_revision` (the app's identity store, whose cached
callers are trusted only under the revision last read).

What a loaded version is depends on the engine: by default an in-process ONNX Runtime session
(:class:`serving.runtime.OnnxModel`); the Ray engine passes an ``open_model`` that answers a model
whose session lives in Ray Serve replicas. Aliases, governance and the watcher are the same for both.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from registry.classification import ServedClassifications
from warehouse.errors import ModelNotFound, ModelNotReady

if TYPE_CHECKING:
    from collections.abc import Callable

    from registry.models import ModelArtifact
    from registry.rollout import Rollout
    from registry.store import GovernanceProbe
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

    ModelOpener = Callable[[ModelArtifact], OnnxModel]
    """Builds the served model of a fetched, verified artifact (cheap; the repository then calls ``load``)."""

logger = logging.getLogger(__name__)

DEFAULT_ALIAS = "champion"
GOVERNANCE_POLL_S = 1.0
"""How often the watcher reads the governance revision (a suspension is honoured within about this)."""


class ModelRepository:
    """Loaded ONNX models keyed by (model name, version), with an alias map per model."""

    def __init__(self, settings: Settings, *, open_model: ModelOpener | None = None) -> None:
        self.settings = settings
        self._open_model = open_model
        self._models: dict[tuple[str, str], OnnxModel] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._rollouts: dict[str, Rollout] = {}
        self.classifications = ServedClassifications(settings)
        """Classification levels of served versions and models, forgotten when governance changes."""
        self._lock = threading.RLock()
        self._startup_done = threading.Event()
        self.startup_error: str | None = None
        self._revision: int | None = None
        self._stop_watching = threading.Event()
        self._watcher: threading.Thread | None = None
        self._revision_listeners: list[Callable[[int], None]] = []

    def on_revision(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with every governance revision the watcher reads (changed or not)."""
        self._revision_listeners.append(listener)

    @property
    def ready(self) -> bool:
        """True when the start-up load finished and at least one model is loaded."""
        return self._startup_done.is_set() and bool(self._models)

    def wait_for_startup(self, timeout_s: float) -> bool:
        """Block until the start-up load pass has finished; False if it did not within ``timeout_s``."""
        return self._startup_done.wait(timeout_s)

    def refresh_governance(self, probe: GovernanceProbe) -> bool:
        """If governance changed since the last call, forget aliases and drop unservable versions."""
        revision = probe.revision()
        for listener in self._revision_listeners:
            listener(revision)
        if revision == self._revision:
            return False
        with self._lock:
            keys = list(self._models)
        servable = probe.servable(keys)
        with self._lock:
            self._revision = revision
            self._aliases.clear()
            self._rollouts.clear()
            self.classifications.clear()
            for key in keys:
                if key not in servable:
                    self._models.pop(key, None)
                    logger.info("dropped %s v%s: no longer approved or published", *key)
        return True

    def start_watching(self, interval_s: float = GOVERNANCE_POLL_S) -> None:
        """Start the thread that applies governance changes every ``interval_s`` (once per repository)."""
        from registry.store import GovernanceProbe

        if self._stop_watching.is_set():  # shut down before the start-up pass got here
            return
        watcher = threading.Thread(
            target=self._watch, args=(GovernanceProbe(self.settings), interval_s), name="governance-watch", daemon=True
        )
        watcher.start()
        self._watcher = watcher

    def stop_watching(self) -> None:
        """Stop the watcher thread (if it runs) and wait for it; it is never restarted."""
        self._stop_watching.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.join()

    def _watch(self, probe: GovernanceProbe, interval_s: float) -> None:
        try:
            while not self._stop_watching.wait(interval_s):
                try:
                    self.refresh_governance(probe)
                except Exception:
                    logger.exception("reading the governance revision failed; retrying")
        finally:
            probe.close()

    def rollout(self, model_name: str) -> Rollout:
        """The rollout of ``model_name``, read once per governance revision."""
        from registry.rollout import get_rollout

        with self._lock:
            cached, revision = self._rollouts.get(model_name), self._revision
        if cached is not None:
            return cached
        rollout = get_rollout(self.settings, model_name)
        with self._lock:
            if self._revision == revision:  # else governance moved while reading: do not keep a stale answer
                self._rollouts[model_name] = rollout
        return rollout

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
            model = (self._open_model or OnnxModel)(fetch_model(self.settings, ref))
            model.load()
        if not model.ready:
            raise ModelNotReady(f"{model_name} v{ref.version} failed to load")
        with self._lock:
            self._models[(model_name, ref.version)] = model
            if not alias_or_version.isdigit():
                self._aliases[(model_name, alias_or_version)] = ref.version
        return model
