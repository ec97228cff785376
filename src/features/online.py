"""Online feature lookup for scoring: the serving hot path.

One Feast call per request against a store opened once and reused; no registry lookups of our own,
no re-apply, no validation of values that were validated when they were generated (callers that
receive feature vectors from outside validate them with ``features.schemas.feature_frame_schema``). Entities the
online store holds nothing for are reported in ``missing`` instead of raising, so a caller can
answer for the ones it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.definitions import service_spec
from warehouse.errors import InvalidRequest

if TYPE_CHECKING:
    from feast import FeatureStore
    from feast.protos.feast.serving.ServingService_pb2 import GetOnlineFeaturesResponse
    from feast.protos.feast.types.Value_pb2 import Value

NOT_FOUND = 3
"""``FieldStatus.NOT_FOUND`` of Feast's serving protocol: the online store holds no row."""


@dataclass(frozen=True)
class OnlineFeatures:
    """Feature vectors of the entities found (index: entity id, service order, float) and the ids not found."""

    frame: pd.DataFrame
    missing: list[str]


def _value(value: Value) -> float:
    kind = value.WhichOneof("val")
    return np.nan if kind is None or kind == "null_val" else float(getattr(value, kind))


def _found(vector: GetOnlineFeaturesResponse.FeatureVector) -> list[bool]:
    # The Redis store answers PRESENT with an empty value for unknown keys; only a found row has a timestamp.
    return [
        status != NOT_FOUND and (stamp.seconds != 0 or stamp.nanos != 0)
        for status, stamp in zip(vector.statuses, vector.event_timestamps, strict=True)
    ]


def _columns(response: GetOnlineFeaturesResponse, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Values (entities x features, float) and whether each entity was found in any view."""
    position = {name: index for index, name in enumerate(response.metadata.feature_names.val)}
    vectors = [response.results[position[name]] for name in names]
    values = np.array([[_value(value) for value in vector.values] for vector in vectors], dtype=float).T
    found = np.array([_found(vector) for vector in vectors]).T.any(axis=1)
    return values.reshape(-1, len(names)), found.reshape(-1)


@dataclass(frozen=True)
class OnlineVectors:
    """Feature vectors of the entities found as a bare matrix: the serving hot path builds no DataFrame."""

    entity_ids: list[str]
    """Ids of the entities found, in request order (duplicates removed), one per row of ``values``."""

    values: np.ndarray
    """Float64 matrix ``[len(entity_ids), len(feature_names)]``, NaN where a value is missing."""

    feature_names: list[str]
    """Column names of ``values``: the feature service's order."""

    missing: list[str]
    """Requested ids the online store holds nothing for."""


def read_online_vectors(
    store: FeatureStore, *, feature_service: str, entity_key: str, entity_ids: Sequence[str]
) -> OnlineVectors:
    """Latest feature vectors of ``entity_ids`` from the online store, in service order, as a matrix."""
    spec = service_spec(feature_service)
    if entity_key != spec.entity_key:
        raise InvalidRequest(f"feature service {feature_service!r} is keyed by {spec.entity_key!r}, not {entity_key!r}")
    names = spec.feature_names
    ids = list(dict.fromkeys(entity_ids))
    if not ids:
        return OnlineVectors(entity_ids=[], values=np.empty((0, len(names))), feature_names=names, missing=[])
    # Feature references rather than the service object: Feast caches their resolution by value
    # while the registry cache is fresh, and looking the service up would refresh the registry.
    response = store.get_online_features(features=spec.feature_refs, entity_rows={entity_key: ids}).proto
    values, found = _columns(response, names)
    return OnlineVectors(
        entity_ids=[entity for entity, hit in zip(ids, found, strict=True) if hit],
        values=values[found],
        feature_names=names,
        missing=[entity for entity, hit in zip(ids, found, strict=True) if not hit],
    )


def read_online_features(
    store: FeatureStore, *, feature_service: str, entity_key: str, entity_ids: Sequence[str]
) -> OnlineFeatures:
    """Latest feature vectors of ``entity_ids`` from the online store, in service order."""
    vectors = read_online_vectors(store, feature_service=feature_service, entity_key=entity_key, entity_ids=entity_ids)
    # An empty index gets an explicit dtype; otherwise pandas infers the id dtype as it always has.
    index = pd.Index(vectors.entity_ids, name=entity_key, dtype=None if vectors.entity_ids else object)
    frame = pd.DataFrame(vectors.values, index=index, columns=vectors.feature_names, dtype=float)
    return OnlineFeatures(frame=frame, missing=vectors.missing)
