"""Feast objects built from the specs, with source paths resolved against the current data dir.

Built in code and applied programmatically (never through ``feast apply``, which imports every
``.py`` file it finds). Paths are absolute because Feast's DuckDB offline store reads
``FileSource.path`` as given; :func:`features.store.open_feature_store` re-applies when the data dir
has moved. Feast is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from features.datasets import table_path
from features.definitions import POPULATIONS, SERVICES
from features.definitions.specs import FeatureSpec, PopulationSpec, ViewSpec

if TYPE_CHECKING:
    from feast import Entity, FeatureView, Field, OnDemandFeatureView
    from feast.feast_object import FeastObject
    from feast.labeling.label_view import LabelView

    from warehouse.settings import Settings


def _field(feature: FeatureSpec) -> Field:
    from feast import Field
    from feast.types import Float64, Int64

    return Field(name=feature.name, dtype=Int64 if feature.kind == "int" else Float64, description=feature.description)


def _feature_view(settings: Settings, population: PopulationSpec, view: ViewSpec, entity: Entity) -> FeatureView:
    from feast import FeatureView, FileSource

    source = FileSource(
        name=f"{population.name}_{view.table}",
        path=str(table_path(settings, population.name, view.table)),
        timestamp_field="event_timestamp",
    )
    return FeatureView(
        name=view.name,
        entities=[entity],
        ttl=population.ttl,
        schema=[_field(feature) for feature in view.features],
        source=source,
        online=True,
        description=view.description,
        tags={"population": population.name, "table": view.table},
    )


def _entity(population: PopulationSpec) -> Entity:
    from feast import Entity, ValueType

    return Entity(
        name=population.entity,
        join_keys=[population.entity_key],
        value_type=ValueType.STRING,
        description=population.entity_description,
    )


def feast_objects(settings: Settings, populations: Sequence[str] | None = None) -> list[FeastObject]:
    """Entities, feature views and feature services of ``populations`` (default: all), for ``FeatureStore.apply``."""
    from feast import FeatureService

    chosen = [POPULATIONS[name] for name in (POPULATIONS if populations is None else populations)]
    objects: list[FeastObject] = []
    views: dict[str, FeatureView] = {}
    for population in chosen:
        entity = _entity(population)
        objects.append(entity)
        for view in population.views:
            views[view.name] = _feature_view(settings, population, view, entity)
    objects.extend(views.values())
    for service in SERVICES.values():
        if service.population not in chosen:
            continue
        features: list[FeatureView | OnDemandFeatureView | LabelView | str] = [
            views[view.name] for view in service.views
        ]
        objects.append(FeatureService(name=service.name, features=features, description=service.description))
    return objects


def expected_sources(settings: Settings) -> dict[str, str]:
    """Feature view name to the source path it must read under the current data dir."""
    return {
        view.name: str(table_path(settings, population.name, view.table))
        for population in POPULATIONS.values()
        for view in population.views
    }
