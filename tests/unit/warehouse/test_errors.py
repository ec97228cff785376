"""The error hierarchy: stable, unique codes and HTTP statuses."""

from __future__ import annotations

import warehouse.errors as errors_module
from warehouse.errors import EntityNotFound, WarehouseError


def _all_errors() -> list[type[WarehouseError]]:
    return [
        value for value in vars(errors_module).values() if isinstance(value, type) and issubclass(value, WarehouseError)
    ]


def test_every_error_has_a_unique_snake_case_code() -> None:
    codes = [error.code for error in _all_errors()]
    assert len(codes) == len(set(codes)), codes
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes)


def test_statuses_are_http_error_statuses() -> None:
    assert all(400 <= error.status < 600 for error in _all_errors())


def test_body_shape() -> None:
    assert EntityNotFound("no such building").to_body() == {
        "error": {"code": "entity_not_found", "message": "no such building"}
    }
