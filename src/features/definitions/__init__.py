"""The feature catalogue: which populations and feature services exist.

Feature services are looked up by name here; :mod:`features.definitions.repo` turns the specs into
Feast objects. Importing this package imports no feature store.
"""

from __future__ import annotations

from features.definitions.buildings import BUILDINGS, FIRE_RISK
from features.definitions.enterprises import ENTERPRISES, RISK_SCORING
from features.definitions.market_entities import CREDIT_SUPERVISION, MARKET_ENTITIES
from features.definitions.specs import FeatureSpec, PopulationSpec, ServiceSpec, ViewSpec
from warehouse.errors import InvalidRequest

POPULATIONS: dict[str, PopulationSpec] = {
    population.name: population for population in (BUILDINGS, MARKET_ENTITIES, ENTERPRISES)
}
SERVICES: dict[str, ServiceSpec] = {service.name: service for service in (FIRE_RISK, CREDIT_SUPERVISION, RISK_SCORING)}

__all__ = [
    "POPULATIONS",
    "SERVICES",
    "FeatureSpec",
    "PopulationSpec",
    "ServiceSpec",
    "ViewSpec",
    "population_spec",
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
    try:
        return POPULATIONS[name]
    except KeyError:
        raise InvalidRequest(f"unknown population {name!r}; known: {', '.join(sorted(POPULATIONS))}") from None
