"""Online lookups: found entities as a float frame in service order, unknown ones in ``missing``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from features.definitions import SERVICES
from features.online import read_online_features
from features.schemas import feature_frame_schema, validate_frame
from features.store import open_feature_store
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore

NAMES = SERVICES["fire_risk"].feature_names


@pytest.fixture(scope="module")
def store(prepared_settings: Settings) -> FeatureStore:
    return open_feature_store(prepared_settings)


def _read(store: FeatureStore, ids: list[str]) -> tuple[pd.DataFrame, list[str]]:
    online = read_online_features(store, feature_service="fire_risk", entity_key="building_id", entity_ids=ids)
    return online.frame, online.missing


def test_found_entities_get_their_latest_snapshot(store: FeatureStore, raw_features: pd.DataFrame) -> None:
    frame, missing = _read(store, ["B0000002", "B0000001"])
    assert missing == []
    assert list(frame.index) == ["B0000002", "B0000001"]
    assert frame.index.name == "building_id"
    assert list(frame.columns) == NAMES
    assert (frame.dtypes == "float64").all()
    latest = raw_features[raw_features["event_timestamp"] == raw_features["event_timestamp"].max()]
    expected = latest.set_index("building_id").loc[["B0000002", "B0000001"], NAMES].to_numpy(dtype=float)
    np.testing.assert_array_equal(frame.to_numpy(), expected)


def test_unknown_ids_go_to_missing(store: FeatureStore) -> None:
    frame, missing = _read(store, ["B0000003", "B9999999", "nobody"])
    assert list(frame.index) == ["B0000003"]
    assert missing == ["B9999999", "nobody"]


def test_only_unknown_ids_give_an_empty_frame(store: FeatureStore) -> None:
    frame, missing = _read(store, ["B9999999"])
    assert frame.empty
    assert list(frame.columns) == NAMES
    assert missing == ["B9999999"]


def test_repeated_ids_are_read_once(store: FeatureStore) -> None:
    frame, missing = _read(store, ["B0000004", "B0000004"])
    assert list(frame.index) == ["B0000004"]
    assert missing == []


def test_no_ids_give_an_empty_frame(store: FeatureStore) -> None:
    frame, missing = _read(store, [])
    assert frame.shape == (0, len(NAMES))
    assert missing == []


def test_online_frame_is_valid_inference_input(store: FeatureStore) -> None:
    frame, _ = _read(store, [f"B{i:07d}" for i in range(1, 51)])
    assert len(frame) == 50
    assert validate_frame(feature_frame_schema("fire_risk"), frame) is frame


def test_wrong_entity_key_is_an_invalid_request(store: FeatureStore) -> None:
    with pytest.raises(InvalidRequest, match="keyed by 'building_id', not 'enterprise_id'"):
        read_online_features(store, feature_service="fire_risk", entity_key="enterprise_id", entity_ids=["B0000001"])


def test_unknown_feature_service_is_an_invalid_request(store: FeatureStore) -> None:
    with pytest.raises(InvalidRequest, match="unknown feature service 'credit'"):
        read_online_features(store, feature_service="credit", entity_key="building_id", entity_ids=["B0000001"])
