"""The feature catalogue: which populations and feature services exist.

Feature services are looked up by name here; :mod:`features.definitions.repo` turns the specs into
Feast objects. The catalogue holds the built-in packages and every one installed through the
``warehouse.features`` entry-point group (:mod:`features.definitions.catalogue`), read on first use.
Importing this package imports no feature store and scans no entry point.
"""

from __future__ import annotations

from features.definitions.catalogue import (
    CatalogueView,
    feature_packages,
    populations,
    reload_feature_packages,
    services,
)
from features.definitions.specs import FeaturePackage, FeatureSpec, PopulationSpec, ServiceSpec, ViewSpec
from warehouse.errors import InvalidRequest

POPULATIONS: CatalogueView[PopulationSpec] = CatalogueView(populations)
"""Population specs by name, built-in and installed."""
SERVICES: CatalogueView[ServiceSpec] = CatalogueView(services)
"""Feature service specs by name, built-in and installed."""

__all__ = [
    "POPULATIONS",
    "SERVICES",
    "FeaturePackage",
    "FeatureSpec",
    "PopulationSpec",
    "ServiceSpec",
    "ViewSpec",
    "feature_package",
    "population_spec",
    "reload_feature_packages",
    "service_spec",
]


def service_spec(name: str) -> ServiceSpec:
    """The feature service called ``name``; unknown names raise :class:`InvalidRequest`."""
    try:
        return SERVICES[name]
    except KeyError:
        raise InvalidRequest(f"unknown feature service {name!r}; known: {', '.join(sorted(SERVICES))}") from None


def population_spec(name: str) -> PopulationSpec:
    """The population called ``name``; unknown names raise :class:`InvalidRequest`."""
    return feature_package(name).population


def feature_package(population: str) -> FeaturePackage:
    """The feature package of the population called ``population``; unknown names raise :class:`InvalidRequest`."""
    packages = feature_packages()
    try:
        return packages[population]
    except KeyError:
        raise InvalidRequest(f"unknown population {population!r}; known: {', '.join(sorted(packages))}") from None
