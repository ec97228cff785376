"""The real Open Inference Protocol clients (Triton's HTTP client, KServe's REST client) against both engines.

Each client checks liveness, readiness, model metadata (where it has a call for it) and inference,
and the inference outputs must equal what ``/v1/score`` answers for the same buildings. ``local`` is
``warehouse serve`` as a real process; ``ray`` is the same app on the session's Ray Serve, behind a
route prefix (which the clients must carry in their base URL).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from tests.auth_helpers import caller_headers
from tests.engines import ENGINES, RayServed
from warehouse.settings import Settings

ENTITIES = ["B0000001", "B0000002", "B0000007"]


@dataclass(frozen=True)
class Endpoint:
    """Where an engine serves the app, and the settings of the warehouse behind it."""

    url: str
    settings: Settings


@pytest.fixture(scope="module", params=ENGINES)
def endpoint(request: pytest.FixtureRequest) -> Endpoint:
    """The served app under test: ``warehouse serve`` (local engine) or the session's Ray Serve."""
    if request.param == "ray":
        served: RayServed = request.getfixturevalue("ray_scoring_warehouse")
        return Endpoint(url=served.base_url, settings=served.settings)
    return Endpoint(url=request.getfixturevalue("server_url"), settings=request.getfixturevalue("module_settings"))


@pytest.fixture(scope="module")
def base_url(endpoint: Endpoint) -> str:
    """The base URL of the served app (a path prefix included on the Ray engine)."""
    return endpoint.url


@pytest.fixture(scope="module")
def app_headers(endpoint: Endpoint) -> dict[str, str]:
    """A topic application's key, granted fire_risk (the clients call as such an application would)."""
    return caller_headers(endpoint.settings, "app", clearance="internal", grants=["fire_risk"], name="v2-client-app")


@pytest.fixture(scope="module")
def endpoint_admin_headers(endpoint: Endpoint) -> dict[str, str]:
    """An admin key of the served warehouse (cleared for everything)."""
    return caller_headers(endpoint.settings, "admin", name="v2-client-admin")


@pytest.fixture(scope="module")
def v1_results(base_url: str, app_headers: dict[str, str]) -> list[dict[str, object]]:
    """What the native API answers for ENTITIES."""
    response = httpx.post(
        f"{base_url}/v1/score/fire_risk", json={"entities": ENTITIES}, headers=app_headers, timeout=30
    )
    assert response.status_code == 200
    results: list[dict[str, object]] = response.json()["results"]
    return results


@pytest.fixture(scope="module")
def feature_matrix(base_url: str, endpoint: Endpoint, app_headers: dict[str, str]) -> npt.NDArray[np.float32]:
    """ENTITIES' online features as the float32 matrix, in the order the model metadata lists."""
    from features.online import read_online_features
    from features.store import open_feature_store

    names = httpx.get(f"{base_url}/v2/models/fire_risk", headers=app_headers, timeout=30).json()["parameters"][
        "feature_names"
    ]
    frame = read_online_features(
        open_feature_store(endpoint.settings),
        feature_service="fire_risk",
        entity_key="building_id",
        entity_ids=ENTITIES,
    ).frame
    return frame[names].to_numpy(dtype=np.float32)


def test_triton_client(
    base_url: str,
    feature_matrix: npt.NDArray[np.float32],
    v1_results: list[dict[str, object]],
    app_headers: dict[str, str],
    endpoint_admin_headers: dict[str, str],
) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(url=base_url.removeprefix("http://"))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("fire_risk", headers=app_headers)
        metadata = client.get_model_metadata("fire_risk", headers=app_headers)
        assert (metadata["name"], metadata["platform"]) == ("fire_risk", "onnxruntime")
        (tensor,) = metadata["inputs"]
        assert tensor["datatype"] == "FP32"
        assert tensor["shape"] == [-1, feature_matrix.shape[1]]
        assert (
            client.get_model_metadata("fire_risk", model_version="champion", headers=app_headers)["parameters"][
                "version"
            ]
            == "1"
        )

        infer_input = triton.InferInput(tensor["name"], list(feature_matrix.shape), "FP32")
        infer_input.set_data_from_numpy(feature_matrix, binary_data=False)
        outputs = [triton.InferRequestedOutput(name, binary_data=False) for name in ("probability", "level")]
        result = client.infer(
            "fire_risk", [infer_input], outputs=outputs, request_id="triton-1", model_version="1", headers=app_headers
        )
        assert result.get_response()["id"] == "triton-1"
        assert result.as_numpy("probability").tolist() == [row["score"] for row in v1_results]
        assert [level.decode() if isinstance(level, bytes) else level for level in result.as_numpy("level")] == [
            row["level"] for row in v1_results
        ]
        with pytest.raises(InferenceServerException, match="no registered model"):
            client.get_model_metadata("no_such_model", headers=endpoint_admin_headers)
        with pytest.raises(InferenceServerException, match="forbidden"):  # not granted to the application
            client.get_model_metadata("no_such_model", headers=app_headers)
    finally:
        client.close()


def test_kserve_client(
    base_url: str,
    feature_matrix: npt.NDArray[np.float32],
    v1_results: list[dict[str, object]],
    app_headers: dict[str, str],
    endpoint_admin_headers: dict[str, str],
) -> None:
    admin = endpoint_admin_headers  # an unknown model is a 404 only to a caller cleared for everything
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    async def run() -> None:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            assert await client.is_server_live(base_url) is True
            assert await client.is_server_ready(base_url) is True
            assert await client.is_model_ready(base_url, "fire_risk", headers=admin) is True
            assert await client.is_model_ready(base_url, "no_such_model", headers=admin) is False
            infer_input = InferInput(
                name="input", shape=list(feature_matrix.shape), datatype="FP32", data=feature_matrix.ravel().tolist()
            )
            request = InferRequest(model_name="fire_risk", infer_inputs=[infer_input], request_id="kserve-1")
            response = await client.infer(base_url, request, model_name="fire_risk", headers=app_headers)
            # The KServe client's InferResponse keeps no model_version; the name and id come through.
            assert (response.model_name, response.id) == ("fire_risk", "kserve-1")
            outputs = {output.name: output for output in response.outputs}
            assert outputs["probability"].data == [row["score"] for row in v1_results]
            assert outputs["level"].data == [row["level"] for row in v1_results]
            assert outputs["warning"].data == [row["warning"] for row in v1_results]
        finally:
            await client.close()

    asyncio.run(run())


def test_binary_tensors_are_refused_with_a_protocol_400(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/v2/models/fire_risk/infer",
        content=b'{"inputs": []}\x00\xff',
        headers={"inference-header-content-length": "14"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "binary" in response.json()["error"]
