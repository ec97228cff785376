"""``warehouse principals`` and ``warehouse keys``: keys are shown once, listed without secrets, revocable."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from warehouse.audit import list_entries
from warehouse.cli import app
from warehouse.errors import InvalidRequest, PrincipalExists
from warehouse.identity import IdentityStore
from warehouse.settings import Settings

TOKEN = re.compile(r"wh_[0-9a-f]{16}_\S+")


def _run(data_dir: Path, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.stdout, result.exception


def test_init_bootstraps_one_admin_key_once(tmp_path: Path) -> None:
    first_code, first, _ = _run(tmp_path, "init")
    second_code, second, _ = _run(tmp_path, "init")
    bootstrap_code, bootstrap, _ = _run(tmp_path, "keys", "bootstrap")

    assert (first_code, second_code, bootstrap_code) == (0, 0, 0)
    token = TOKEN.search(first)
    assert token is not None and "shown only now" in first
    assert TOKEN.search(second) is None and "principals exist already" in bootstrap
    caller = IdentityStore(Settings(data_dir=tmp_path)).authenticate(token.group(0))
    assert (caller.principal, sorted(caller.roles), caller.clearance) == ("admin", ["admin"], "restricted")


def test_principals_keys_and_grants(tmp_path: Path) -> None:
    add = _run(tmp_path, "principals", "add", "city-dashboard", "--kind", "application", "--roles", "app",
               "--clearance", "internal", "--actor", "ops")  # fmt: skip
    grant = _run(tmp_path, "principals", "grant", "city-dashboard", "fire_risk", "--actor", "ops")
    created = _run(tmp_path, "keys", "create", "city-dashboard", "--expires-days", "30", "--actor", "ops")
    listed = _run(tmp_path, "keys", "list")
    principals = _run(tmp_path, "principals", "list")

    assert [code for code, _, _ in (add, grant, created, listed, principals)] == [0, 0, 0, 0, 0]
    assert "granted models: fire_risk" in grant[1]
    token = TOKEN.search(created[1])
    assert token is not None
    key_id = token.group(0).split("_")[1]
    secret = token.group(0).split("_", 2)[2]
    assert key_id in listed[1] and secret not in listed[1]
    assert "city-dashboard" in principals[1]

    revoked = _run(tmp_path, "keys", "revoke", key_id, "--actor", "ops")
    assert revoked[0] == 0 and f"API key {key_id} of city-dashboard revoked" in revoked[1]
    actions = [entry.action for entry in reversed(list_entries(Settings(data_dir=tmp_path), actor="ops"))]
    assert actions == ["principal.create", "grant.add", "key.create", "key.revoke"]


def test_bad_input_is_a_domain_error(tmp_path: Path) -> None:
    _run(tmp_path, "principals", "add", "dept", "--roles", "reviewer")

    roles = _run(tmp_path, "principals", "add", "other", "--roles", "reviewer,overlord")
    clearance = _run(tmp_path, "principals", "add", "other", "--clearance", "top-secret")
    again = _run(tmp_path, "principals", "add", "dept", "--roles", "reviewer")
    missing = _run(tmp_path, "keys", "create", "nobody")
    unknown_key = _run(tmp_path, "keys", "revoke", "0123456789abcdef")

    assert isinstance(roles[2], InvalidRequest) and "overlord" in str(roles[2])
    assert isinstance(clearance[2], InvalidRequest) and "top-secret" in str(clearance[2])
    assert isinstance(again[2], PrincipalExists)
    assert getattr(missing[2], "code", None) == "principal_not_found"
    assert getattr(unknown_key[2], "code", None) == "api_key_not_found"
