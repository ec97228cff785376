"""Schemathesis over the app's own OpenAPI: no 5xx and no response that breaks its schema.

Every operation gets ``EXAMPLES_PER_OPERATION`` schema-valid and as many schema-breaking cases
(derandomised, so a run repeats), over 1,000 in all, sent to the ASGI app in-process. The headers
of every call come from the ``api_headers`` fixture: an admin's ``Authorization`` key, so every
route is reached past authentication.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

EXAMPLES_PER_OPERATION = 30
"""Per operation and generation mode (schema-valid data, then schema-breaking data)."""
MINIMUM_CASES = 1_000


@pytest.fixture(scope="module")
def api_headers(module_admin_headers: dict[str, str]) -> dict[str, str]:
    """Headers sent with every generated request: an admin key, so that every route is reached."""
    return module_admin_headers


@pytest.fixture(scope="module")
def api_schema(module_client: TestClient) -> schemathesis.BaseSchema:
    """The OpenAPI of a started app over a private warehouse copy, called in-process."""
    return schemathesis.openapi.from_asgi("/openapi.json", module_client.app)


def test_no_server_errors_and_responses_match_the_schema(
    api_schema: schemathesis.BaseSchema, api_headers: dict[str, str]
) -> None:
    cases = fuzz_every_operation(api_schema, api_headers, EXAMPLES_PER_OPERATION)
    assert sum(cases.values()) >= MINIMUM_CASES, cases


def fuzz_every_operation(
    schema: schemathesis.BaseSchema, headers: dict[str, str], examples: int, base_url: str | None = None
) -> dict[str, int]:
    """Send ``examples`` schema-valid and as many schema-breaking cases of every operation (to
    ``base_url`` over HTTP, or in process); answers the count of cases per operation and mode."""
    # One Hypothesis run per operation (schemathesis.pytest.from_fixture does not work with pytest 9).
    cases: dict[str, int] = {}
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(result.ok(), mode, headers, cases, examples, base_url)
    return cases


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    headers: dict[str, str],
    cases: dict[str, int],
    examples: int,
    base_url: str | None,
) -> None:
    """Run one operation's generated cases of one mode, counting them under ``METHOD /path mode``."""
    label = f"{operation.method.upper()} {operation.path} {mode.value}"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        cases[label] = cases.get(label, 0) + 1
        response = case.call(headers=headers, base_url=base_url)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        check()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise  # an operation with no parameters and no body has nothing to break, only then
