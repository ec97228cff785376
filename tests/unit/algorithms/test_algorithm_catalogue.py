"""Discovery of algorithms through the ``warehouse.algorithms`` entry-point group."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from algorithms import catalogue
from algorithms.base import Algorithm
from algorithms.catalogue import ENTRY_POINT_GROUP, get_algorithm, list_algorithms, reload_catalogue
from algorithms.fire_risk import FireRisk
from warehouse.errors import AlgorithmNotFound, ConfigurationError


@pytest.fixture(autouse=True)
def _fresh_catalogue() -> Iterator[None]:
    reload_catalogue()
    yield
    reload_catalogue()


def _entry_point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def _install(monkeypatch: pytest.MonkeyPatch, *entry_points: EntryPoint) -> None:
    monkeypatch.setattr(
        catalogue, "entry_points", lambda group: list(entry_points) if group == ENTRY_POINT_GROUP else []
    )


class NamedWrong(FireRisk):
    """An algorithm whose name differs from its entry point."""

    name = "not_what_the_entry_point_says"


def test_fire_risk_is_installed_with_its_contract() -> None:
    algorithm = get_algorithm("fire_risk")

    assert isinstance(algorithm, FireRisk)
    assert "fire_risk" in [listed.name for listed in list_algorithms()]
    assert (algorithm.entity, algorithm.feature_service, algorithm.label, algorithm.task) == (
        "building_id",
        "fire_risk",
        "incident_next_month",
        "binary",
    )
    assert get_algorithm("fire_risk") is algorithm  # discovered once per process


def test_unknown_name_lists_the_installed_algorithms() -> None:
    with pytest.raises(AlgorithmNotFound) as caught:
        get_algorithm("flood_risk")

    assert caught.value.code == "algorithm_not_found"
    assert caught.value.status == 404
    assert "flood_risk" in caught.value.message
    assert "installed algorithms: credit_supervision, fire_risk, risk_scoring" in caught.value.message


def test_broken_entry_points_are_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install(
        monkeypatch,
        _entry_point("fire_risk", "algorithms.fire_risk:FireRisk"),
        _entry_point("missing_module", "no_such_package.algo:Algo"),
        _entry_point("not_an_algorithm", "collections:OrderedDict"),
        _entry_point("abstract", "algorithms.base:Algorithm"),
        _entry_point("wrong_name", f"{__name__}:NamedWrong"),
    )
    with caplog.at_level(logging.WARNING, logger="algorithms.catalogue"):
        names = [algorithm.name for algorithm in list_algorithms()]

    assert names == ["fire_risk"]
    skipped = " ".join(record.getMessage() for record in caplog.records)
    for broken in ("missing_module", "not_an_algorithm", "abstract", "wrong_name"):
        assert broken in skipped


def test_asking_for_a_broken_algorithm_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, _entry_point("missing_module", "no_such_package.algo:Algo"))

    with pytest.raises(ConfigurationError, match=r"missing_module.*ModuleNotFoundError"):
        get_algorithm("missing_module")
    with pytest.raises(AlgorithmNotFound, match="installed algorithms: none"):
        get_algorithm("fire_risk")


def test_an_entry_point_may_name_an_instance_and_duplicates_keep_the_first(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install(
        monkeypatch,
        _entry_point("fire_risk", f"{__name__}:FIRE_RISK_INSTANCE"),
        _entry_point("fire_risk", f"{__name__}:NamedWrong"),
    )
    with caplog.at_level(logging.WARNING, logger="algorithms.catalogue"):
        algorithm = get_algorithm("fire_risk")

    assert algorithm is FIRE_RISK_INSTANCE
    assert "declared twice" in caplog.text


def test_algorithm_is_an_abstract_contract() -> None:
    with pytest.raises(TypeError):
        Algorithm()  # type: ignore[abstract]  # the point of the test


FIRE_RISK_INSTANCE = FireRisk()


class UnknownService(FireRisk):
    """An algorithm fed by a feature service nobody provides."""

    name = "unknown_service"
    feature_service = "no_such_service"


class WrongEntity(FireRisk):
    """An algorithm whose entity is not the key of its feature service."""

    name = "wrong_entity"
    entity = "enterprise_id"


def test_an_algorithm_needs_a_feature_service_that_fits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(
        monkeypatch,
        _entry_point("unknown_service", f"{__name__}:UnknownService"),
        _entry_point("wrong_entity", f"{__name__}:WrongEntity"),
    )

    with pytest.raises(ConfigurationError, match="unknown feature service 'no_such_service'"):
        get_algorithm("unknown_service")
    with pytest.raises(ConfigurationError, match=r"keyed by 'building_id'.*declares entity 'enterprise_id'"):
        get_algorithm("wrong_entity")
