"""credit_supervision and risk_scoring through the whole platform on small populations.

Each test generates its population in a fresh data dir, applies and materialises the Feast
definitions, trains, registers and approves a champion through ``warehouse.pipeline``, and scores
it through the HTTP app. No services, no network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.auth_helpers import caller_headers
from warehouse.api import create_app
from warehouse.pipeline import PublishedModel, initialize, prepare_features, train_and_publish
from warehouse.settings import Settings

N_ENTITIES = 400
SEED = 7


@dataclass(frozen=True)
class Flow:
    population: str
    algorithm: str
    first_entity: str
    settings: Settings
    published: PublishedModel


def _run_flow(root: Path, population: str, algorithm: str, first_entity: str) -> Flow:
    settings = Settings(data_dir=root)
    initialize(settings)
    prepare_features(settings, n_entities=N_ENTITIES, seed=SEED, population=population)
    published = train_and_publish(settings, algorithm, seed=SEED, actor="scientist")
    return Flow(population, algorithm, first_entity, settings, published)


FLOWS = {
    "credit_supervision": ("market_entities", "M00000001"),
    "risk_scoring": ("enterprises", "E00000001"),
}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Flow]:
    """Each algorithm's flow, run once per module on first use."""
    done: dict[str, Flow] = {}

    def get(algorithm: str) -> Flow:
        if algorithm not in done:
            population, first_entity = FLOWS[algorithm]
            done[algorithm] = _run_flow(tmp_path_factory.mktemp(algorithm), population, algorithm, first_entity)
        return done[algorithm]

    return get


@contextmanager
def _serving(settings: Settings) -> Iterator[TestClient]:
    headers = caller_headers(settings, "scientist", clearance="internal")
    with TestClient(create_app(settings), headers=headers) as test_client:
        deadline = time.monotonic() + 60.0
        while (response := test_client.get("/v2/health/ready")).status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after 60 s: {response.status_code} {response.text}")
            time.sleep(0.05)
        yield test_client


@pytest.fixture(params=sorted(FLOWS))
def flow(request: pytest.FixtureRequest, flows: Callable[[str], Flow]) -> Flow:
    return flows(request.param)


@pytest.fixture
def client(flow: Flow) -> Iterator[TestClient]:
    with _serving(flow.settings) as test_client:
        yield test_client


def test_the_flow_trains_a_champion_with_onnx_parity(flow: Flow) -> None:
    published = flow.published
    assert (published.model_name, published.version, published.alias) == (flow.algorithm, "1", "champion")
    assert published.parity_max_abs_diff <= 1e-5
    assert published.metrics["roc_auc"] > 0.6
    assert published.holdout_rows == 4 * N_ENTITIES


def test_entities_are_scored_over_http(flow: Flow, client: TestClient) -> None:
    response = client.post(f"/v1/score/{flow.algorithm}", json={"entities": [flow.first_entity, "X0"]})
    assert response.status_code == 200
    body = response.json()
    assert (body["algorithm"], body["model_version"], body["alias"]) == (flow.algorithm, "1", "champion")
    found, unknown = body["results"]
    assert found["entity_id"] == flow.first_entity
    assert 0.0 <= found["score"] <= 1.0
    assert found["error"] is None
    assert unknown["error"]["code"] == "entity_not_found"
    if flow.algorithm == "credit_supervision":
        assert found["level"] in {"A", "B", "C", "D"}
        assert 300.0 <= found["credit_score"] <= 900.0
        assert found["inspection_frequency"]
        assert found["warning"] is (found["level"] == "D")
    else:
        assert found["level"] in {"low", "medium", "high", "critical"}
        # Without a points scale, inspection table or explain, the answer keeps the fire_risk shape.
        assert set(found) == {"entity_id", "score", "level", "warning", "error"}


def test_a_worse_credit_record_never_gets_a_better_grade(flows: Callable[[str], Flow]) -> None:
    from features.definitions import service_spec

    clean = dict.fromkeys(service_spec("credit_supervision").feature_names, 0.0)
    clean |= {"registration_age_years": 8.0, "registered_capital_10k_cny": 100.0, "employees": 10.0}
    clean |= {"annual_report_filed": 1.0, "days_since_inspection": 200.0}
    rows = [clean | {"admin_penalties_12m": float(count), "dishonest_debtor": float(count > 2)} for count in range(5)]
    with _serving(flows("credit_supervision").settings) as client:
        response = client.post("/v1/score/credit_supervision", json={"features": rows})
    assert response.status_code == 200
    scores = [result["credit_score"] for result in response.json()["results"]]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


def test_explain_answers_top_reasons_that_add_up_with_the_rest_to_the_score(flow: Flow, client: TestClient) -> None:
    from features.definitions import service_spec

    body = {"entities": [flow.first_entity], "explain": True}
    result = client.post(f"/v1/score/{flow.algorithm}", json=body).json()["results"][0]
    reasons = result["reasons"]
    assert 1 <= len(reasons) <= 3
    magnitudes = [abs(reason["contribution"]) for reason in reasons]
    assert magnitudes == sorted(magnitudes, reverse=True)
    descriptions = {spec.name: spec.description for spec in service_spec(flow.algorithm).features}
    for reason in reasons:
        effect = "raises risk" if reason["contribution"] > 0 else "lowers risk"
        assert reason["text"].startswith(descriptions[reason["feature"]] + ": ")
        assert reason["text"].endswith(f"({effect})")
    plain = client.post(f"/v1/score/{flow.algorithm}", json={"entities": [flow.first_entity]}).json()["results"][0]
    assert "reasons" not in plain
    assert plain["score"] == result["score"]


def test_served_contributions_add_up_to_the_served_log_odds(flow: Flow) -> None:
    import numpy as np

    from features.online import read_online_features
    from features.store import open_feature_store
    from serving.repository import ModelRepository

    model = ModelRepository(flow.settings).get(flow.algorithm, "champion")
    entity_ids = [f"{flow.first_entity[0]}{index:08d}" for index in range(1, 51)]
    online = read_online_features(
        open_feature_store(flow.settings),
        feature_service=flow.algorithm,
        entity_key=model.metadata.entity,
        entity_ids=entity_ids,
    )
    contributions = model.contributions(online.frame)
    probabilities = model.predict_proba(online.frame)
    assert contributions.shape == (50, len(model.metadata.feature_names) + 1)
    # ONNX Runtime computes in float32: its probability matches the exact log-odds sum to float rounding.
    assert np.max(np.abs(1.0 / (1.0 + np.exp(-contributions.sum(axis=1))) - probabilities)) <= 1e-5


def test_a_tampered_explainer_is_refused_before_it_is_loaded(flows: Callable[[str], Flow], tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    from algorithms.base import EXPLAINER_ARTIFACT_PATH
    from serving.repository import ModelRepository
    from warehouse.errors import ModelIntegrityError

    settings = Settings(data_dir=tmp_path / "copy")
    shutil.copytree(flows("credit_supervision").settings.data_dir, settings.data_dir)
    model = ModelRepository(settings).get("credit_supervision", "champion")
    explainer = model.artifact.directory / EXPLAINER_ARTIFACT_PATH
    explainer.write_text(explainer.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    row = pd.DataFrame([dict.fromkeys(model.metadata.feature_names, 0.0)])
    with pytest.raises(ModelIntegrityError, match="SM3"):
        model.contributions(row)
