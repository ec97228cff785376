"""The installed algorithms, discovered through the ``warehouse.algorithms`` entry-point group.

A department ships an algorithm as its own package with an entry point
``<name> = "<module>:<Algorithm subclass>"``; nothing in the platform changes. Its
``feature_service`` must be in the feature catalogue, keyed by the algorithm's ``entity`` and
labelled with its ``label``: a built-in service, or one the same package brings in a
``warehouse.features`` entry point (:mod:`features.definitions.catalogue`). An entry point that
fails to import, is not an :class:`Algorithm`, whose name differs from the algorithm's ``name``, or
whose feature service does not fit is logged and skipped, so one broken package never takes the
catalogue down.

Discovery runs once per process (scanning installed distributions costs milliseconds, and the
scoring route asks for its algorithm on every request); :func:`reload_catalogue` starts over.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from algorithms.base import Algorithm
from features.definitions import service_spec
from warehouse.errors import AlgorithmNotFound, ConfigurationError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "warehouse.algorithms"


def get_algorithm(name: str) -> Algorithm:
    """The installed algorithm called ``name``."""
    loaded, broken = _catalogue()
    if name in loaded:
        return loaded[name]
    if name in broken:
        raise ConfigurationError(f"algorithm {name!r} is installed but cannot be loaded: {broken[name]}")
    installed = ", ".join(sorted(loaded)) or "none"
    raise AlgorithmNotFound(f"no algorithm named {name!r}; installed algorithms: {installed}")


def list_algorithms() -> list[Algorithm]:
    """Every installed algorithm that loads, sorted by name."""
    loaded, _broken = _catalogue()
    return [loaded[name] for name in sorted(loaded)]


def reload_catalogue() -> None:
    """Forget what was discovered, so that the next call scans the entry points again."""
    _catalogue.cache_clear()


@lru_cache(maxsize=1)
def _catalogue() -> tuple[dict[str, Algorithm], dict[str, str]]:
    """Algorithms by name, and the reason each broken entry point was skipped."""
    loaded: dict[str, Algorithm] = {}
    broken: dict[str, str] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in loaded or entry_point.name in broken:
            logger.warning("algorithm %r is declared twice; keeping the first, skipping %s", *_where(entry_point))
            continue
        try:
            loaded[entry_point.name] = _load(entry_point)
        except Exception as exc:
            broken[entry_point.name] = f"{type(exc).__name__}: {exc}"
            logger.warning("skipping algorithm entry point %r (%s): %s", *_where(entry_point), broken[entry_point.name])
    return loaded, broken


def _load(entry_point: EntryPoint) -> Algorithm:
    target = entry_point.load()
    algorithm = target() if isinstance(target, type) and issubclass(target, Algorithm) else target
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"{entry_point.value} is not an algorithms.base.Algorithm subclass or instance")
    if algorithm.name != entry_point.name:
        raise ValueError(f"entry point name {entry_point.name!r} differs from the algorithm's name {algorithm.name!r}")
    _check_feature_service(algorithm)
    return algorithm


def _check_feature_service(algorithm: Algorithm) -> None:
    """The algorithm's feature service exists, is keyed by its entity and carries its label."""
    service = service_spec(algorithm.feature_service)
    if (service.entity_key, service.label) != (algorithm.entity, algorithm.label):
        raise ValueError(
            f"feature service {service.name!r} is keyed by {service.entity_key!r} with label {service.label!r}; "
            f"the algorithm declares entity {algorithm.entity!r} and label {algorithm.label!r}"
        )


def _where(entry_point: EntryPoint) -> tuple[str, str]:
    return entry_point.name, entry_point.value
