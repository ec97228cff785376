"""The feature catalogue: the built-in feature packages and those installed through entry points.

A department that ships an algorithm with its own population exposes a
:class:`~features.definitions.specs.FeaturePackage` in the ``warehouse.features`` entry-point group
(``<population name> = "<module>:<package object>"``), next to its ``warehouse.algorithms`` entry
point. Its views, services and generator then take part in everything the built-ins do (population
generation, Feast apply and materialisation, point-in-time training sets, online and batch reads,
schemas, reason wording) with no change to the platform.

A package that fails to load, is not a ``FeaturePackage``, is named differently from its
population, or would reuse a name already taken (a population, entity, view or service: Feast names
are global in a project) is logged and skipped, so one broken package never takes the catalogue
down. Discovery runs once per process, on first use; :func:`reload_feature_packages` starts over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from features.buildings import generate_buildings
from features.definitions.buildings import BUILDINGS, FIRE_RISK
from features.definitions.enterprises import ENTERPRISES, RISK_SCORING
from features.definitions.market_entities import CREDIT_SUPERVISION, MARKET_ENTITIES
from features.definitions.specs import FeaturePackage, PopulationSpec, ServiceSpec
from features.enterprises import generate_enterprises
from features.market_entities import generate_market_entities

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "warehouse.features"

BUILT_IN_PACKAGES = (
    FeaturePackage(population=BUILDINGS, services=(FIRE_RISK,), generator=generate_buildings),
    FeaturePackage(population=MARKET_ENTITIES, services=(CREDIT_SUPERVISION,), generator=generate_market_entities),
    FeaturePackage(population=ENTERPRISES, services=(RISK_SCORING,), generator=generate_enterprises),
)

_SpecT = TypeVar("_SpecT")


def feature_packages() -> dict[str, FeaturePackage]:
    """Every feature package by population name: the built-ins first, then the installed ones."""
    return dict(_packages())


def reload_feature_packages() -> None:
    """Forget what was discovered, so that the next read scans the entry points again."""
    _packages.cache_clear()


class CatalogueView(Mapping[str, _SpecT]):
    """A read-only mapping over the current catalogue (it reads the packages on every access)."""

    def __init__(self, entries: Callable[[], Mapping[str, _SpecT]]) -> None:
        self._entries = entries

    def __getitem__(self, name: str) -> _SpecT:
        return self._entries()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())


def populations() -> dict[str, PopulationSpec]:
    """Population specs by name."""
    return {name: package.population for name, package in _packages().items()}


def services() -> dict[str, ServiceSpec]:
    """Feature service specs by name."""
    return {service.name: service for package in _packages().values() for service in package.services}


@lru_cache(maxsize=1)
def _packages() -> dict[str, FeaturePackage]:
    packages = {package.population.name: package for package in BUILT_IN_PACKAGES}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            package = _load(entry_point)
            _check_names_free(package, packages)
        except Exception as exc:
            logger.warning(
                "skipping feature package entry point %r (%s): %s: %s",
                entry_point.name,
                entry_point.value,
                type(exc).__name__,
                exc,
            )
            continue
        packages[package.population.name] = package
    return packages


def _load(entry_point: EntryPoint) -> FeaturePackage:
    package = entry_point.load()
    if not isinstance(package, FeaturePackage):
        raise TypeError(f"{entry_point.value} is not a features.definitions.specs.FeaturePackage")
    if package.population.name != entry_point.name:
        raise ValueError(f"entry point {entry_point.name!r} names population {package.population.name!r}")
    strangers = [service.name for service in package.services if service.population != package.population]
    if strangers:
        raise ValueError(f"services {strangers} are not over the package's population {entry_point.name!r}")
    return package


def _check_names_free(package: FeaturePackage, taken: Mapping[str, FeaturePackage]) -> None:
    """A new package may not reuse a population, entity, view or service name already in the catalogue."""
    for kind, names in _names(package).items():
        clash = names & {name for other in taken.values() for name in _names(other)[kind]}
        if clash:
            raise ValueError(f"{kind} names {sorted(clash)} are already taken")


def _names(package: FeaturePackage) -> dict[str, set[str]]:
    population = package.population
    return {
        "population": {population.name},
        "entity": {population.entity},
        "view": {view.name for view in population.views},
        "service": {service.name for service in package.services},
    }
