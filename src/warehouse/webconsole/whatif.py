"""The fields of the Try it page's what-if form: a champion's features, described by its feature service.

The names and their order are the loaded model's own (what ``POST /v1/score/{algorithm}`` checks an
inline row against); the description, bounds and whether a value may be left blank come from the
feature service's definitions. The bounds are shown as help only: the API checks the row and its
``data_validation_failed`` answer is shown next to the field it names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from warehouse.errors import WarehouseError

if TYPE_CHECKING:
    from serving.repository import ModelRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureField:
    """One input of the what-if form."""

    name: str
    description: str
    minimum: float | None
    maximum: float | None
    nullable: bool

    @property
    def range_text(self) -> str:
        """The bounds for the help text: both joined by an en dash, ``≥ 0``, ``≤ 10``, or nothing."""
        low, high = (None if bound is None else format(bound, ",.15g") for bound in (self.minimum, self.maximum))
        if low is not None and high is not None:
            return f"{low} \N{EN DASH} {high}"
        if low is not None:
            return f"≥ {low}"
        return "" if high is None else f"≤ {high}"


def feature_fields(repository: ModelRepository, algorithm: str) -> list[FeatureField]:
    """The fields of ``algorithm``'s champion in model order; empty when the champion cannot be loaded."""
    from features.definitions import service_spec

    try:
        model = repository.get(algorithm, "champion")
        specs = {spec.name: spec for spec in service_spec(model.metadata.feature_service).features}
    except WarehouseError as exc:
        logger.warning("what-if form of %s: %s", algorithm, exc)
        return []
    fields = []
    for name in model.metadata.feature_names:
        spec = specs.get(name)
        fields.append(
            FeatureField(name, name, None, None, True)
            if spec is None
            else FeatureField(name, spec.description, spec.minimum, spec.maximum, spec.nullable)
        )
    return fields
