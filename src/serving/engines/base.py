"""The serving-engine contract, and the table that picks an engine by the short name in settings.

An engine runs the one warehouse app (``warehouse.api:create_app``) with every published model:
``local`` in one uvicorn process, ``ray`` on Ray Serve. Engines are imported only when chosen, so
that Ray is never imported by a node that serves locally.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from warehouse.settings import EngineKind, Settings

ENGINES: dict[EngineKind, str] = {
    "local": "serving.engines.local:LocalEngine",
    "ray": "serving.engines.ray:RayEngine",
}
"""Engine name (``settings.engine``) to ``module:Class``."""


class ServingEngine(ABC):
    """Serves the warehouse's HTTP app; built cheaply (no I/O until it serves)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def serve(self, *, on_bound: Callable[[str], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT; ``on_bound`` gets the base URL as soon as it is known."""

    @abstractmethod
    def running(self) -> AbstractContextManager[str]:
        """Serve in the background while the context is open; it yields the base URL (``http://host:port``)."""


def load_engine(settings: Settings) -> ServingEngine:
    """The engine ``settings.engine`` names, built for ``settings``."""
    module_name, class_name = ENGINES[settings.engine].split(":")
    engine_class: type[ServingEngine] = getattr(importlib.import_module(module_name), class_name)
    return engine_class(settings)
