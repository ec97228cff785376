"""Plain descriptions of features, feature views and feature services.

One source of truth for names, types, ranges and nullability: the Feast objects
(:mod:`features.definitions.repo`) and the pandera schemas (:mod:`features.schemas`) are both
derived from these specs. Importing this module imports no feature store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["int", "float"]
RiskDirection = Literal[-1, 0, 1]
"""How risk moves as a feature grows: 1 raises it, -1 lowers it, 0 undeclared (no constraint)."""


@dataclass(frozen=True)
class FeatureSpec:
    """One numeric feature as stored in its parquet table."""

    name: str
    kind: FeatureKind
    description: str
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    risk_direction: RiskDirection = 0
    """Declared direction of risk; monotone-constrained models enforce it, reason codes phrase with it."""


@dataclass(frozen=True)
class ViewSpec:
    """A feature view: one parquet table of a population, keyed by entity and snapshot timestamp."""

    name: str
    table: str
    description: str
    features: tuple[FeatureSpec, ...]

    @property
    def feature_names(self) -> list[str]:
        """Feature names in declaration order."""
        return [feature.name for feature in self.features]


@dataclass(frozen=True)
class PopulationSpec:
    """A generated population: its Feast entity, key, label table and feature views."""

    name: str
    entity: str
    entity_key: str
    entity_id_pattern: str
    entity_description: str
    label_table: str
    label: str
    views: tuple[ViewSpec, ...]
    ttl: timedelta

    @property
    def tables(self) -> list[str]:
        """Every table the population's generator writes (views first, labels last)."""
        return [*(view.table for view in self.views), self.label_table]


@dataclass(frozen=True)
class ServiceSpec:
    """A Feast feature service: the features one algorithm consumes, from one population."""

    name: str
    description: str
    population: PopulationSpec
    views: tuple[ViewSpec, ...]

    @property
    def entity_key(self) -> str:
        """Join key of the service's entity."""
        return self.population.entity_key

    @property
    def label(self) -> str:
        """Target column of the service's training set."""
        return self.population.label

    @property
    def features(self) -> list[FeatureSpec]:
        """Every feature of the service, in service order."""
        return [feature for view in self.views for feature in view.features]

    @property
    def feature_names(self) -> list[str]:
        """Feature names in service order."""
        return [feature.name for feature in self.features]

    @property
    def feature_refs(self) -> list[str]:
        """Feast feature references ``view:feature`` in service order."""
        return [f"{view.name}:{feature.name}" for view in self.views for feature in view.features]


PopulationGenerator = Callable[..., Mapping[str, "pd.DataFrame"]]
"""A seeded generator ``(n_entities, *, months, seed, end_month) -> {table name: frame}``."""


@dataclass(frozen=True)
class FeaturePackage:
    """A population, the feature services over it, and its seeded generator: one unit of the catalogue.

    The built-in populations are packages too; a department adds its own by exposing one in the
    ``warehouse.features`` entry-point group (see :mod:`features.definitions.catalogue`).
    """

    population: PopulationSpec
    services: tuple[ServiceSpec, ...]
    generator: PopulationGenerator
    """Writes every table of :attr:`PopulationSpec.tables`, each matching its view's features."""
