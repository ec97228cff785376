"""Feature packages: the built-ins, and installed ones through the ``warehouse.features`` entry points."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from features.definitions import (
    POPULATIONS,
    SERVICES,
    FeaturePackage,
    feature_package,
    population_spec,
    reload_feature_packages,
    service_spec,
)
from features.definitions import catalogue as feature_catalogue
from features.definitions.buildings import BUILDINGS, FIRE_RISK
from features.definitions.catalogue import ENTRY_POINT_GROUP
from features.definitions.specs import PopulationSpec, ServiceSpec
from warehouse.errors import InvalidRequest


def _renamed(population: PopulationSpec, name: str) -> PopulationSpec:
    views = tuple(dataclasses.replace(view, name=f"{name}_{view.name}") for view in population.views)
    return dataclasses.replace(population, name=name, entity=f"{name}_entity", views=views)


EXTRA_POPULATION = _renamed(BUILDINGS, "depots")
EXTRA_SERVICE = ServiceSpec("depot_risk", "Depot risk", EXTRA_POPULATION, EXTRA_POPULATION.views)
EXTRA = FeaturePackage(population=EXTRA_POPULATION, services=(EXTRA_SERVICE,), generator=dict)
CLASHING_VIEWS = FeaturePackage(
    population=dataclasses.replace(EXTRA_POPULATION, name="clash", entity="clash_entity", views=BUILDINGS.views),
    services=(),
    generator=dict,
)
FOREIGN_SERVICE = FeaturePackage(population=_renamed(BUILDINGS, "foreign"), services=(FIRE_RISK,), generator=dict)


@pytest.fixture(autouse=True)
def _fresh_catalogue() -> Iterator[None]:
    reload_feature_packages()
    yield
    reload_feature_packages()


def _install(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    points = [EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP) for name, value in values.items()]
    monkeypatch.setattr(feature_catalogue, "entry_points", lambda group: points if group == ENTRY_POINT_GROUP else [])


def test_the_built_in_packages_are_the_catalogue_without_plugins() -> None:
    assert set(POPULATIONS) >= {"buildings", "market_entities", "enterprises"}
    assert set(SERVICES) >= {"fire_risk", "credit_supervision", "risk_scoring"}
    assert feature_package("buildings").services == (FIRE_RISK,)
    with pytest.raises(InvalidRequest, match="unknown population 'depots'"):
        population_spec("depots")


def test_an_installed_package_adds_its_population_and_services(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, depots=f"{__name__}:EXTRA")

    assert population_spec("depots") is EXTRA_POPULATION
    assert service_spec("depot_risk") is EXTRA_SERVICE
    assert "depots" in POPULATIONS
    assert feature_package("depots").generator is dict
    assert service_spec("fire_risk") is FIRE_RISK


def test_broken_or_clashing_packages_are_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install(
        monkeypatch,
        missing="no_such_package.features:PACKAGE",
        not_a_package="collections:OrderedDict",
        wrong_name=f"{__name__}:EXTRA",
        clash=f"{__name__}:CLASHING_VIEWS",
        foreign=f"{__name__}:FOREIGN_SERVICE",
        buildings=f"{__name__}:BUILT_IN_AGAIN",
    )
    with caplog.at_level(logging.WARNING, logger="features.definitions.catalogue"):
        names = sorted(POPULATIONS)

    assert names == ["buildings", "enterprises", "market_entities"]
    messages = {record.getMessage().split("'")[1]: record.getMessage() for record in caplog.records}
    assert "ModuleNotFoundError" in messages["missing"]
    assert "not a features.definitions.specs.FeaturePackage" in messages["not_a_package"]
    assert "names population 'depots'" in messages["wrong_name"]
    assert "view names" in messages["clash"] and "already taken" in messages["clash"]
    assert "not over the package's population" in messages["foreign"]
    assert "population names ['buildings'] are already taken" in messages["buildings"]


BUILT_IN_AGAIN = FeaturePackage(population=BUILDINGS, services=(), generator=dict)
