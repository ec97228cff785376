"""Identity and authorisation checks shared by the SQLite (unit) and PostgreSQL (integration) tests.

:data:`ROUTES` is the expected permission matrix written out by hand (not derived from
``warehouse.permissions``): for every route, a request, the roles that may make it, and what an
allowed caller gets. :func:`matrix_cases` crosses it with every caller: the five roles plus no key,
an invalid key, a revoked key and an expired key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from algorithms.fire_risk import FireRisk
from registry.card import ModelCard
from registry.store import VersionRecord
from tests.auth_helpers import bearer, caller_headers
from warehouse.audit import list_entries, verify_chain
from warehouse.db import open_metadata_db, utc_now
from warehouse.errors import Unauthenticated
from warehouse.identity import (
    ApiKeyRecord,
    IdentityStore,
    add_principal,
    create_key,
    list_keys,
    revoke_key,
    set_disabled,
)
from warehouse.permissions import Role
from warehouse.settings import Settings

ROLES = ("scientist", "reviewer", "admin", "app", "auditor")
BAD_KEYS = ("no key", "invalid key", "revoked key", "expired key")
CALLERS = (*ROLES, *BAD_KEYS)
SCORE_ROLES = frozenset({"scientist", "admin", "app"})
READERS = frozenset({"scientist", "reviewer", "admin", "auditor"})
GOVERNORS = frozenset({"reviewer", "admin"})
ADMIN = frozenset({"admin"})
MODEL = "/v1/models/fire_risk"
BAD_JOB = {"name": "nightly", "algorithm": "fire_risk", "cron": "whenever"}


@dataclass(frozen=True)
class RouteCase:
    """One route of the matrix: a request, who may make it, and what an allowed caller gets."""

    method: str
    template: str
    path: str
    allowed: frozenset[str]
    status: int
    code: str | None = None
    body: Mapping[str, object] | None = None
    page: bool = False
    """A console page: refusals are pages too (401 -> a redirect to the sign-in page, 403 -> an HTML page)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)


def routes(*, score_status: int = 200, score_code: str | None = None) -> list[RouteCase]:
    """The matrix; ``score_status``/``score_code``: what scoring answers where no model is served.

    Open Inference Protocol errors are bare strings (``{"error": "..."}``): their code is ``None``.
    """
    version = f"{MODEL}/versions/{{version}}"
    lifecycle = "invalid_lifecycle_transition"
    # Where no model is served, no MLflow model exists either: /v2 and the plots answer 404.
    v2_model, v2_status = "/v2/models/fire_risk", 200 if score_status == 200 else 404
    return [
        RouteCase("GET", "/v2/models/{name}", v2_model, SCORE_ROLES, v2_status),
        RouteCase("GET", "/v2/models/{name}/versions/{version}", f"{v2_model}/versions/1", SCORE_ROLES, v2_status),
        RouteCase("GET", "/v2/models/{name}/ready", f"{v2_model}/ready", SCORE_ROLES, v2_status),
        RouteCase("GET", "/v2/models/{name}/versions/{version}/ready", f"{v2_model}/versions/1/ready", SCORE_ROLES,
                  v2_status),
        RouteCase("POST", "/v2/models/{name}/infer", f"{v2_model}/infer", SCORE_ROLES, 400, None, {}),
        RouteCase("POST", "/v2/models/{name}/versions/{version}/infer", f"{v2_model}/versions/1/infer", SCORE_ROLES,
                  400, None, {}),
        RouteCase("GET", "/metrics", "/metrics", frozenset({"admin", "auditor"}), 200),
        RouteCase("POST", "/v1/score/{algorithm}", "/v1/score/fire_risk", SCORE_ROLES, score_status, score_code,
                  {"entities": ["B0000001"]}),
        RouteCase("GET", "/v2", "/v2", frozenset(ROLES), 200),
        RouteCase("GET", version.replace(MODEL, "/v1/models/{name}"), f"{MODEL}/versions/1", READERS, 200),
        RouteCase("GET", "/v1/models/{name}/versions/{version}/card", f"{MODEL}/versions/1/card", READERS, 200),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/submit", f"{MODEL}/versions/1/submit",
                  frozenset({"scientist", "admin"}), 409, lifecycle, {}),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/approve", f"{MODEL}/versions/1/approve",
                  GOVERNORS, 409, lifecycle, {}),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/reject", f"{MODEL}/versions/1/reject",
                  GOVERNORS, 409, lifecycle, {"reason": "no"}),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/suspend", f"{MODEL}/versions/9/suspend",
                  GOVERNORS, 404, "model_not_found", {"reason": "drift"}),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/reinstate", f"{MODEL}/versions/1/reinstate",
                  GOVERNORS, 409, lifecycle, {"reason": "fixed"}),
        RouteCase("POST", "/v1/models/{name}/versions/{version}/delist", f"{MODEL}/versions/9/delist",
                  ADMIN, 404, "model_not_found", {"reason": "retired"}),
        RouteCase("POST", "/v1/models/{name}/aliases/{alias}", f"{MODEL}/aliases/champion",
                  GOVERNORS, 404, "model_not_found", {"version": "9"}),
        RouteCase("POST", "/v1/models/{name}/aliases/{alias}/rollback", f"{MODEL}/aliases/champion/rollback",
                  GOVERNORS, 409, lifecycle, {}),
        RouteCase("GET", "/v1/models/{name}/history", f"{MODEL}/history", READERS, 200),
        RouteCase("PUT", "/v1/models/{name}/rollout", f"{MODEL}/rollout", GOVERNORS, 422, "invalid_request",
                  {"mode": "canary", "canary_share": 1.5}),
        RouteCase("GET", "/v1/models/{name}/rollout", f"{MODEL}/rollout", READERS, 200),
        RouteCase("GET", "/v1/models/{name}/compare", f"{MODEL}/compare", READERS, 200),
        RouteCase("GET", "/v1/models/{name}/versions/{version}/export", f"{MODEL}/versions/9/export", ADMIN, 404,
                  "model_not_found"),
        RouteCase("POST", "/v1/models/import", "/v1/models/import", ADMIN, 422, "invalid_request"),
        RouteCase("GET", "/v1/audit", "/v1/audit", frozenset({"admin", "auditor"}), 200),
        RouteCase("GET", "/v1/audit/verify", "/v1/audit/verify", frozenset({"admin", "auditor"}), 200),
        RouteCase("GET", "/v1/jobs", "/v1/jobs", READERS, 200),
        RouteCase("POST", "/v1/jobs", "/v1/jobs", ADMIN, 422, "invalid_request", BAD_JOB),
        RouteCase("GET", "/v1/jobs/{name}", "/v1/jobs/nightly", READERS, 404, "job_not_found"),
        RouteCase("POST", "/v1/jobs/{name}/{state}", "/v1/jobs/nightly/pause", ADMIN, 404, "job_not_found"),
        RouteCase("POST", "/v1/jobs/{name}/backfill", "/v1/jobs/nightly/backfill", ADMIN, 404, "job_not_found",
                  {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"}),
        RouteCase("GET", "/v1/runs", "/v1/runs", READERS, 200),
        RouteCase("GET", "/v1/runs/{run_id}", "/v1/runs/nope", READERS, 404, "run_not_found"),
        RouteCase("GET", "/v1/runs/{run_id}/results", "/v1/runs/nope/results", READERS, 404, "run_not_found"),
        RouteCase("GET", "/v1/alerts", "/v1/alerts", frozenset({"reviewer", "admin", "auditor"}), 200),
        RouteCase("POST", "/v1/alerts/{alert_id}/{action}", "/v1/alerts/999/ack", GOVERNORS, 404,
                  "alert_not_found", {}),
        RouteCase("POST", "/v1/runs", "/v1/runs", ADMIN, 404, "job_not_found", {"job": "nightly"}),
        RouteCase("POST", "/v1/inspections/draw", "/v1/inspections/draw", GOVERNORS, 404, "run_not_found",
                  {"seed": 1, "run": "nope"}),
        RouteCase("GET", "/v1/inspections", "/v1/inspections", frozenset({"reviewer", "admin", "auditor"}), 200),
        RouteCase("GET", "/v1/inspections/{draw_id}", "/v1/inspections/nope", frozenset({"reviewer", "admin",
                  "auditor"}), 404, "inspection_draw_not_found"),
        RouteCase("GET", "/console", "/console", READERS, 200, page=True),
        RouteCase("GET", "/console/models/{name}", "/console/models/fire_risk", READERS, 200, page=True),
        RouteCase("GET", "/console/models/{name}/versions/{version}/plots/{plot}",
                  "/console/models/fire_risk/versions/1/plots/roc", READERS, v2_status, page=True),
        RouteCase("GET", "/console/alerts", "/console/alerts", frozenset({"reviewer", "admin", "auditor"}), 200,
                  page=True),
        RouteCase("GET", "/console/audit", "/console/audit", frozenset({"admin", "auditor"}), 200, page=True),
        RouteCase("GET", "/console/jobs", "/console/jobs", READERS, 200, page=True),
        RouteCase("GET", "/console/jobs/runs", "/console/jobs/runs", READERS, 200, page=True),
        RouteCase("GET", "/console/try", "/console/try", SCORE_ROLES, 200, page=True),
        RouteCase("GET", "/v1/principals", "/v1/principals", frozenset({"admin", "auditor"}), 200),
        RouteCase("POST", "/v1/principals", "/v1/principals", ADMIN, 422, "invalid_request", {}),
        RouteCase("GET", "/v1/principals/{name}/keys", "/v1/principals/nobody/keys", frozenset({"admin", "auditor"}),
                  404, "principal_not_found"),
        RouteCase("POST", "/v1/principals/{name}/keys", "/v1/principals/nobody/keys", ADMIN, 404,
                  "principal_not_found", {}),
        RouteCase("DELETE", "/v1/keys/{key_id}", "/v1/keys/0123456789abcdef", ADMIN, 404, "api_key_not_found"),
        RouteCase("PUT", "/v1/principals/{name}/grants/{model_name}", "/v1/principals/nobody/grants/fire_risk",
                  ADMIN, 404, "principal_not_found"),
        RouteCase("DELETE", "/v1/principals/{name}/grants/{model_name}", "/v1/principals/nobody/grants/fire_risk",
                  ADMIN, 404, "principal_not_found"),
    ]  # fmt: skip


def matrix_cases(cases: list[RouteCase]) -> list[tuple[RouteCase, str]]:
    """Every (route, caller) pair."""
    return [(case, caller) for case in cases for caller in CALLERS]


def make_callers(settings: Settings) -> dict[str, dict[str, str]]:
    """Headers for every caller of the matrix (roles cleared for restricted data; app granted fire_risk)."""
    headers = {role: caller_headers(settings, role, name=f"matrix-{role}", grants=["fire_risk"]) for role in ROLES}
    headers["no key"] = {}
    headers["invalid key"] = bearer("wh_0123456789abcdef_not-a-real-secret")
    revoked = create_key(settings, principal="matrix-admin", actor="tests")
    revoke_key(settings, revoked.key_id, actor="tests")
    headers["revoked key"] = bearer(revoked.token)
    expired = create_key(settings, principal="matrix-admin", actor="tests", expires_in=dt.timedelta(seconds=-1))
    headers["expired key"] = bearer(expired.token)
    return headers


def check_call(client: httpx.Client, case: RouteCase, caller: str, headers: Mapping[str, str]) -> None:
    """One cell of the matrix: status and error code, and the challenge header on 401."""
    if case.page:
        check_page_call(client, case, caller, headers)
        return
    response = client.request(case.method, case.path, headers=dict(headers), json=case.body)
    is_json = response.headers.get("content-type", "").startswith("application/json")
    body = response.json() if is_json else {}
    error = body.get("error") if isinstance(body, dict) else None
    code, message = (error.get("code"), error.get("message", "")) if isinstance(error, dict) else (None, "")
    if isinstance(error, str):  # the Open Inference Protocol's bare string; a refusal says its code first
        prefix, _, rest = error.partition(": ")
        code, message = (prefix, rest) if prefix in {"unauthenticated", "forbidden"} else (None, error)
    where = f"{case.method} {case.path} as {caller}: {response.status_code} {response.text[:300]}"
    if caller in BAD_KEYS:
        assert (response.status_code, code) == (401, "unauthenticated"), where
        assert response.headers["www-authenticate"].startswith('Bearer realm="warehouse"'), where
    elif caller not in case.allowed:
        assert (response.status_code, code) == (403, "forbidden"), where
        assert "lacks the permission" in message, where
    else:
        assert (response.status_code, code) == (case.status, case.code), where


def check_page_call(client: httpx.Client, case: RouteCase, caller: str, headers: Mapping[str, str]) -> None:
    """One cell for a console page: sign in (303 to the sign-in page), a 403 page that says why, or the page."""
    response = client.request(case.method, case.path, headers=dict(headers), follow_redirects=False)
    where = f"{case.method} {case.path} as {caller}: {response.status_code} {response.text[:300]}"
    if caller in BAD_KEYS:
        root = client.base_url.path.rstrip("/")  # the route prefix the app is served under, if any
        assert response.status_code == 303, where
        assert response.headers["location"].startswith(f"{root}/console/login?next="), where
        return
    if caller not in case.allowed:
        assert response.status_code == 403, where
        assert response.headers["content-type"].startswith("text/html; charset=utf-8"), where
        assert "lacks the permission" in response.text, where
    else:
        assert response.status_code == case.status, where


def seed_governed_version(
    settings: Settings,
    *,
    model_name: str = "fire_risk",
    version: str = "1",
    state: str = "published",
    classification: str = "internal",
    submitted_by: str = "scientist",
) -> None:
    """A governance record with a complete card, straight into the metadata DB (no MLflow needed)."""
    card = ModelCard.model_validate(
        {
            "model_name": model_name,
            "version": version,
            "algorithm": "fire_risk",
            "intended_use": "triage",
            "owner_department": "fire brigade",
            "limitations": "synthetic",
            "classification": classification,
            "training_data": "seeded",
            "feature_service": "fire_risk",
            "metrics": {"roc_auc": 0.8},
            "grading": FireRisk.default_grading.model_dump(),
        }
    )
    with open_metadata_db(settings) as db, db.session() as session:
        session.add(
            VersionRecord(
                model_name=model_name,
                version=version,
                state=state,
                registered_by=submitted_by,
                submitted_by=submitted_by,
                card=card.model_dump_json(),
                onnx_sm3="0" * 64,
                metadata_sm3="0" * 64,
                signature="0" * 128,
                signer_key_id="0" * 16,
                updated_at=utc_now(),
            )
        )


def check_key_lifecycle(settings: Settings) -> None:
    """Created keys authenticate; the secret is never stored; revoked, expired, disabled keys are refused."""
    add_principal(
        settings, name="fire-brigade", kind="department", roles=[Role.SCIENTIST], clearance="internal", actor="ops"
    )
    issued = create_key(settings, principal="fire-brigade", actor="ops", expires_in=dt.timedelta(days=30))
    expired = create_key(settings, principal="fire-brigade", actor="ops", expires_in=dt.timedelta(seconds=-1))
    store = IdentityStore(settings)
    try:
        caller = store.authenticate(issued.token)
        assert (caller.principal, caller.roles, caller.clearance) == ("fire-brigade", {Role.SCIENTIST}, "internal")
        secret = issued.token.split("_", 2)[2]
        with open_metadata_db(settings) as db, db.session() as session:
            stored = session.scalars(select(ApiKeyRecord)).all()
        assert all(secret not in " ".join(map(str, vars(row).values())) for row in stored)
        listed = {key.key_id: key for key in list_keys(settings, principal="fire-brigade")}
        assert listed[issued.key_id].last_used_at is not None
        assert secret not in repr(listed)
        _refused(store, expired.token, "expired")
        wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
        _refused(store, issued.token.removesuffix(secret) + wrong, "wrong_secret")
        _refused(store, "not-a-key", "malformed")
        set_disabled(settings, "fire-brigade", disabled=True, actor="ops")
        _refused(store, issued.token, "principal_disabled")
        set_disabled(settings, "fire-brigade", disabled=False, actor="ops")
        revoke_key(settings, issued.key_id, actor="ops")
        assert revoke_key(settings, issued.key_id, actor="ops").revoked_at is not None  # idempotent
        _refused(store, issued.token, "revoked")
    finally:
        store.close()
    actions = [entry.action for entry in reversed(list_entries(settings, actor="ops"))]
    assert actions == [
        "principal.create",
        "key.create",
        "key.create",
        "principal.disable",
        "principal.enable",
        "key.revoke",
    ]
    assert verify_chain(settings).intact


def _refused(store: IdentityStore, token: str, reason: str) -> None:
    try:
        store.authenticate(token)
    except Unauthenticated as exc:
        assert (exc.status, exc.code, exc.reason) == (401, "unauthenticated", reason)
        return
    raise AssertionError(f"{reason}: the key was accepted")


def check_refusals_are_audited(settings: Settings, client: TestClient) -> None:
    """401 and 403 both land in the audit chain, with who, what and why; an expired key is its own event."""
    auditor = caller_headers(settings, "auditor", name="audit-reader")
    app = caller_headers(settings, "app", name="topic-app")
    expired = create_key(settings, principal="topic-app", actor="tests", expires_in=dt.timedelta(seconds=-1))

    anonymous = client.get("/v1/audit")
    forbidden = client.get("/v1/audit", headers=app)
    late = client.get("/v1/jobs", headers=bearer(expired.token))

    assert (anonymous.status_code, forbidden.status_code, late.status_code) == (401, 403, 401)
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="warehouse"'
    assert late.json()["error"] == {"code": "unauthenticated", "message": "the API key has expired"}
    entries = client.get("/v1/audit", headers=auditor).json()
    refusals = [(e["actor"], e["action"], e["subject"], e["detail"].get("reason")) for e in reversed(entries)]
    assert refusals[-3:] == [
        ("anonymous", "access.denied", "GET /v1/audit", "no_key"),
        ("topic-app", "access.denied", "GET /v1/audit", "permission audit.read"),
        ("topic-app", "key.expired_use", "GET /v1/jobs", "expired"),
    ]
    assert client.get("/v1/audit/verify", headers=auditor).json()["intact"] is True


def check_clearance_and_grants(settings: Settings, client: TestClient) -> None:
    """A caller must be cleared for the model's level, and an app must be granted the model."""
    seed_governed_version(settings, model_name="permits", classification="sensitive")
    internal = caller_headers(settings, "reviewer", clearance="internal")
    sensitive = caller_headers(settings, "reviewer", clearance="sensitive")
    ungranted = caller_headers(settings, "app", "auditor", clearance="restricted")
    granted = caller_headers(settings, "app", "auditor", clearance="restricted", grants=["permits"])

    for path in ("/v1/models/permits/versions/1", "/v1/models/permits/versions/1/card", "/v1/models/permits/history"):
        low, high = client.get(path, headers=internal), client.get(path, headers=sensitive)
        assert (low.status_code, low.json()["error"]["code"]) == (403, "forbidden"), path
        assert "classified sensitive" in low.json()["error"]["message"]
        assert high.status_code == 200, path
        refused, allowed = client.get(path, headers=ungranted), client.get(path, headers=granted)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden"), path
        assert "not granted" in refused.json()["error"]["message"]
        assert allowed.status_code == 200, path
    suspend = client.post("/v1/models/permits/versions/1/suspend", json={"reason": "leak"}, headers=internal)
    assert (suspend.status_code, suspend.json()["error"]["code"]) == (403, "forbidden")
    reasons = [entry.detail["reason"] for entry in list_entries(settings) if entry.action == "access.denied"]
    assert "clearance internal below sensitive of permits" in reasons
    assert "not granted permits" in reasons


def check_two_person_rule_across_principals(settings: Settings, client: TestClient) -> None:
    """The approver is the key's principal: the submitting principal cannot approve, another one can."""
    seed_governed_version(settings, model_name="permits", state="in_review", submitted_by="dept-a")
    same = caller_headers(settings, "scientist", "reviewer", name="dept-a", clearance="internal")
    other = caller_headers(settings, "reviewer", name="dept-b", clearance="internal")

    refused = client.post("/v1/models/permits/versions/1/approve", json={"reason": "mine"}, headers=same)
    approved = client.post("/v1/models/permits/versions/1/approve", json={"reason": "ok"}, headers=other)
    smuggled = client.post("/v1/models/permits/versions/1/approve", json={"actor": "dept-b"}, headers=same)

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "two_person_rule_violation")
    assert (approved.status_code, approved.json()["state"]) == (200, "approved")
    assert (smuggled.status_code, smuggled.json()["error"]["code"]) == (422, "invalid_request")
    history = client.get("/v1/models/permits/history", headers=other).json()["lifecycle"]
    assert [(step["to_state"], step["actor"]) for step in history] == [("approved", "dept-b")]


def check_identity_over_http(settings: Settings, client: TestClient) -> None:
    """An admin creates an application, issues its key (shown once), grants a model, revokes the key."""
    admin = caller_headers(settings, "admin", name="identity-admin")
    auditor = caller_headers(settings, "auditor", name="identity-auditor")
    new_app = {"name": "city-app", "kind": "application", "roles": ["app"], "clearance": "internal"}

    created = client.post("/v1/principals", json=new_app, headers=admin)
    duplicate = client.post("/v1/principals", json=new_app, headers=admin)
    bad_role = client.post("/v1/principals", json={**new_app, "name": "x", "roles": ["root"]}, headers=admin)
    issued = client.post("/v1/principals/city-app/keys", json={"expires_in_days": 30}, headers=admin)
    token = issued.json()["token"]
    granted = client.put("/v1/principals/city-app/grants/fire_risk", headers=admin)
    as_app = client.get("/v2", headers=bearer(token))
    keys = client.get("/v1/principals/city-app/keys", headers=auditor)
    listed = client.get("/v1/principals", headers=auditor)
    auditor_issues = client.post("/v1/principals/city-app/keys", json={}, headers=auditor)
    revoked = client.delete(f"/v1/keys/{issued.json()['key_id']}", headers=admin)
    after = client.get("/v2", headers=bearer(token))
    withdrawn = client.delete("/v1/principals/city-app/grants/fire_risk", headers=admin)

    assert (created.status_code, created.json()["roles"], created.json()["granted_models"]) == (201, ["app"], [])
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "principal_exists")
    assert (bad_role.status_code, bad_role.json()["error"]["code"]) == (422, "invalid_request")
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    assert token.startswith(f"wh_{issued.json()['key_id']}_") and issued.json()["expires_at"] is not None
    assert granted.json()["granted_models"] == ["fire_risk"] and as_app.status_code == 200
    assert [key["key_id"] for key in keys.json()] == [issued.json()["key_id"]]
    secret = token.split("_", 2)[2]
    assert secret not in keys.text and secret not in listed.text and "token" not in keys.json()[0]
    assert "city-app" in [principal["name"] for principal in listed.json()]
    assert (auditor_issues.status_code, auditor_issues.json()["error"]["code"]) == (403, "forbidden")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert after.status_code == 401 and after.json()["error"].startswith("unauthenticated")  # /v2: a bare string
    assert withdrawn.json()["granted_models"] == []
    changes = [
        (entry.actor, entry.action, entry.subject)
        for entry in reversed(list_entries(settings, actor="identity-admin"))
        if entry.action.split(".")[0] in {"principal", "key", "grant"}
    ]
    assert changes == [
        ("identity-admin", "principal.create", "principal/city-app"),
        ("identity-admin", "key.create", f"key/{issued.json()['key_id']}"),
        ("identity-admin", "grant.add", "principal/city-app"),
        ("identity-admin", "key.revoke", f"key/{issued.json()['key_id']}"),
        ("identity-admin", "grant.remove", "principal/city-app"),
    ]
    assert verify_chain(settings).intact
