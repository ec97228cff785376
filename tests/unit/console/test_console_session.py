"""The console's sign-in, session cookie, CSRF and refusal pages, without a browser (fast).

One copy of the prepared warehouse serves the module; each test makes its own principals and keys.
The app runs without its lifespan: no page here needs a loaded model.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from warehouse.api import create_app
from warehouse.audit import list_entries
from warehouse.db import utc_now
from warehouse.identity import provision_caller, revoke_key, set_disabled
from warehouse.permissions import Role
from warehouse.security import ClassificationLevel
from warehouse.sessions import CSRF_HEADER, SESSION_COOKIE, SessionSigner
from warehouse.settings import Settings

CSRF_META = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def console_settings(prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("console") / "wh"
    shutil.copytree(prepared_warehouse, root)
    return Settings(data_dir=root)


def _key(settings: Settings, *roles: Role, clearance: ClassificationLevel = "restricted") -> tuple[str, str, str]:
    """(principal, key id, token) of a fresh principal with ``roles``."""
    name = f"console-{uuid.uuid4().hex[:8]}"
    issued = provision_caller(settings, name=name, roles=roles, clearance=clearance, actor="tests")
    return name, issued.key_id, issued.token


def _signed_in(settings: Settings, token: str) -> TestClient:
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    answer = client.post("/console/login", data={"key": token, "next": "/console"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def _csrf(client: TestClient) -> str:
    found = CSRF_META.search(client.get("/console").text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_sign_in_sets_a_strict_http_only_cookie_that_holds_no_secret(console_settings: Settings) -> None:
    _, key_id, token = _key(console_settings, Role.REVIEWER)
    client = TestClient(create_app(console_settings), base_url="http://127.0.0.1")

    answer = client.post("/console/login", data={"key": token, "next": "/console/alerts"}, follow_redirects=False)

    cookie = answer.headers["set-cookie"]
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/alerts")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    value = client.cookies[SESSION_COOKIE]
    assert key_id in value and token.rsplit("_", 1)[1] not in value
    page = client.get("/console")
    assert page.status_code == 200 and "fire_risk" in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"


def test_a_wrong_key_shows_the_form_again_and_is_audited(console_settings: Settings) -> None:
    client = TestClient(create_app(console_settings))

    answer = client.post("/console/login", data={"key": "wh_0123456789abcdef_wrong", "next": "/console"})

    assert answer.status_code == 401
    assert 'id="login-error"' in answer.text and SESSION_COOKIE not in client.cookies
    latest = list_entries(console_settings, limit=1)[0]
    assert (latest.action, latest.subject) == ("access.denied", "POST /console/login")
    assert latest.detail["reason"] == "unknown_key"


def test_without_a_session_a_page_sends_the_caller_to_sign_in_and_back(console_settings: Settings) -> None:
    client = TestClient(create_app(console_settings))

    answer = client.get("/console/models/fire_risk?version=1", follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fmodels%2Ffire_risk%3Fversion%3D1"
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/console/models/fire_risk?version=1"' in form.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/console", "/v1/audit", "/console\\@x"])
def test_sign_in_never_redirects_off_the_console(console_settings: Settings, target: str) -> None:
    _, _, token = _key(console_settings, Role.AUDITOR)
    client = TestClient(create_app(console_settings))

    answer = client.post("/console/login", data={"key": token, "next": target}, follow_redirects=False)

    assert answer.headers["location"] == "/console"


def test_the_api_accepts_the_cookie_and_needs_the_csrf_token_to_change_state(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.REVIEWER)
    client = _signed_in(console_settings, token)
    step = "/v1/models/fire_risk/versions/1/approve"

    read = client.get("/v1/models/fire_risk/history")
    missing = client.post(step, json={})
    wrong = client.post(step, json={}, headers={CSRF_HEADER: "0" * 64})
    right = client.post(step, json={}, headers={CSRF_HEADER: _csrf(client)})

    assert read.status_code == 200 and read.json()["aliases"][0]["alias"] == "champion"
    for refused in (missing, wrong):
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert CSRF_HEADER in refused.json()["error"]["message"]
    # Past authentication and the CSRF check: the lifecycle rule answers (the version is published).
    assert (right.status_code, right.json()["error"]["code"]) == (409, "invalid_lifecycle_transition")
    assert list_entries(console_settings, limit=5, subject="POST /v1/models")[1].detail["reason"] == "csrf"


def test_the_session_keeps_the_roles_of_its_key(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.SCIENTIST)
    client = _signed_in(console_settings, token)

    page = client.get("/console/audit")
    api = client.get("/v1/audit")

    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert 'id="refusal"' in page.text and "lacks the permission audit.read" in page.text
    assert (api.status_code, api.json()["error"]["code"]) == (403, "forbidden")


def test_revoking_the_key_ends_the_session(console_settings: Settings) -> None:
    _, key_id, token = _key(console_settings, Role.ADMIN)
    client = _signed_in(console_settings, token)
    assert client.get("/console/audit").status_code == 200

    revoke_key(console_settings, key_id, actor="tests")

    assert client.get("/console/audit", follow_redirects=False).status_code == 303
    refused = client.get("/v1/audit")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthenticated")
    assert list_entries(console_settings, limit=1)[0].detail["reason"] == "revoked"


def test_disabling_the_principal_ends_the_session(console_settings: Settings) -> None:
    name, _, token = _key(console_settings, Role.AUDITOR)
    client = _signed_in(console_settings, token)

    set_disabled(console_settings, name, disabled=True, actor="tests")

    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_forged_or_expired_session_is_refused(console_settings: Settings) -> None:
    _, key_id, _ = _key(console_settings, Role.ADMIN)
    signer = SessionSigner(console_settings)
    genuine = signer.issue(key_id, expires_at=utc_now() + dt.timedelta(hours=1))
    forged = genuine[:-4] + ("0000" if not genuine.endswith("0000") else "1111")
    expired = signer.issue(key_id, expires_at=utc_now() - dt.timedelta(seconds=1))
    client = TestClient(create_app(console_settings))

    for value in (forged, expired, "not-a-session"):
        client.cookies.set(SESSION_COOKIE, value)
        assert client.get("/console", follow_redirects=False).status_code == 303, value
        assert client.get("/v1/audit").status_code == 401, value
    client.cookies.set(SESSION_COOKIE, genuine)
    assert client.get("/v1/audit").status_code == 200
    assert signer.verify(genuine, now=utc_now()) is not None
    assert signer.verify(genuine, now=utc_now() + dt.timedelta(hours=2)) is None


def test_the_session_never_outlives_its_key(console_settings: Settings) -> None:
    name = f"console-{uuid.uuid4().hex[:8]}"
    issued = provision_caller(
        console_settings,
        name=name,
        roles=[Role.AUDITOR],
        clearance="internal",
        expires_in=dt.timedelta(minutes=5),
        actor="tests",
    )
    client = _signed_in(console_settings, issued.token)

    session = SessionSigner(console_settings).verify(client.cookies[SESSION_COOKIE], now=utc_now())

    assert session is not None and issued.expires_at is not None
    assert session.expires_at <= issued.expires_at


def test_sign_out_clears_the_cookie(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.AUDITOR)
    client = _signed_in(console_settings, token)

    answer = client.post("/console/logout", follow_redirects=False)

    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_catalog_shows_only_what_the_clearance_reaches(console_settings: Settings) -> None:
    _, _, public_token = _key(console_settings, Role.SCIENTIST, clearance="public")
    _, _, internal_token = _key(console_settings, Role.SCIENTIST, clearance="internal")

    hidden = _signed_in(console_settings, public_token)
    shown = _signed_in(console_settings, internal_token)

    assert 'data-model="fire_risk"' not in hidden.get("/console").text
    assert hidden.get("/console/models/fire_risk").status_code == 403
    assert 'data-model="fire_risk"' in shown.get("/console").text
    assert 'data-model="fire_risk"' not in shown.get("/console", params={"q": "credit"}).text
    assert 'data-model="fire_risk"' in shown.get("/console", params={"q": "FIRE"}).text


def test_jobs_runs_and_alerts_pages_show_only_what_the_clearance_reaches(
    tmp_path: Path, prepared_warehouse: Path
) -> None:
    from scheduling.jobs import add_job, run_job_now
    from scheduling.specs import JobSpec

    settings = Settings(data_dir=tmp_path / "wh")
    shutil.copytree(prepared_warehouse, settings.data_dir)
    spec = {"name": "nightly", "algorithm": "fire_risk", "cron": "0 2 * * *", "thresholds": {"min_level": "high"}}
    add_job(settings, JobSpec.model_validate(spec))
    run_id = run_job_now(settings, "nightly").run_id
    _, _, public_token = _key(settings, Role.AUDITOR, clearance="public")
    _, _, internal_token = _key(settings, Role.AUDITOR, clearance="internal")
    hidden, shown = _signed_in(settings, public_token), _signed_in(settings, internal_token)

    for client, seen in ((hidden, False), (shown, True)):
        jobs = client.get("/console/jobs").text
        assert ('data-job="nightly"' in jobs, f'data-run="{run_id}"' in jobs) == (seen, seen)
        assert (f'data-run="{run_id}"' in client.get("/console/jobs/runs").text) is seen
        for params in ({}, {"algorithm": "fire_risk"}):
            assert ("data-alert=" in client.get("/console/alerts", params=params).text) is seen


def test_labels_follow_the_language_setting(console_settings: Settings) -> None:
    english = console_settings.model_copy(update={"console_language": "en"})

    chinese_page = TestClient(create_app(console_settings)).get("/console/login")
    english_page = TestClient(create_app(english)).get("/console/login")

    assert '<html lang="zh-CN">' in chinese_page.text and "登录" in chinese_page.text
    assert '<html lang="en">' in english_page.text and "Sign in" in english_page.text
    assert "登录" not in english_page.text


def test_static_files_are_served_openly(console_settings: Settings) -> None:
    client = TestClient(create_app(console_settings))

    for name in ("htmx.min.js", "console.js", "console.css"):
        assert client.get(f"/console/static/{name}").status_code == 200, name


def test_the_demo_prints_the_console_url_and_the_key_to_sign_in_with(tmp_path: Path) -> None:
    from rich.console import Console

    from warehouse.demo import _print_where_to_look
    from warehouse.identity import bootstrap_admin
    from warehouse.pipeline import initialize

    settings = Settings(data_dir=tmp_path / "wh", port=8181)
    initialize(settings)
    admin_key = bootstrap_admin(settings)
    assert admin_key is not None
    console = Console(record=True, width=200)

    _print_where_to_look(settings, tmp_path, console, admin_key=admin_key)

    text = console.export_text()
    assert "web console     http://127.0.0.1:8181/console" in text
    assert f"admin API key   {admin_key.token}" in text and "sign in to the console" in text


def test_the_signing_secret_is_private_to_the_node(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    token = SessionSigner(settings).issue("0123456789abcdef", expires_at=utc_now() + dt.timedelta(hours=1))

    secret = settings.data_dir / "keys" / "console_session.key"
    other_node = SessionSigner(Settings(data_dir=tmp_path / "other"))

    assert secret.stat().st_mode & 0o777 == 0o600
    assert SessionSigner(settings).verify(token, now=utc_now()) is not None  # same node, after a restart
    assert other_node.verify(token, now=utc_now()) is None


def test_another_site_may_not_sign_a_visitor_in(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.AUDITOR)
    client = TestClient(create_app(console_settings), base_url="http://127.0.0.1:8080")
    form = {"key": token, "next": "/console"}

    cross_site = client.post("/console/login", data=form, headers={"Origin": "https://evil.example"})
    same_origin = {"Origin": "http://127.0.0.1:8080"}
    same_site = client.post("/console/login", data=form, headers=same_origin, follow_redirects=False)

    assert cross_site.status_code == 403 and SESSION_COOKIE not in cross_site.headers.get("set-cookie", "")
    assert same_site.status_code == 303 and SESSION_COOKIE in same_site.headers["set-cookie"]


def test_evaluation_plots_come_from_the_training_run(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.AUDITOR)
    client = _signed_in(console_settings, token)
    base = "/console/models/fire_risk/versions/1/plots"

    for plot in ("roc", "calibration", "feature_importance"):
        image = client.get(f"{base}/{plot}")
        assert (image.status_code, image.headers["content-type"]) == (200, "image/png"), plot
        assert image.content.startswith(b"\x89PNG"), plot
    assert client.get(f"{base}/confusion").status_code == 422
    assert client.get("/console/models/fire_risk/versions/9/plots/roc").status_code == 404
    page = client.get("/console/models/fire_risk")
    assert f'src="{base}/roc"' in page.text


def test_try_it_offers_the_champions_features_as_a_what_if_form_in_both_languages(console_settings: Settings) -> None:
    from features.definitions import service_spec

    _, _, token = _key(console_settings, Role.SCIENTIST)
    english = console_settings.model_copy(update={"console_language": "en"})
    chinese_page = _signed_in(console_settings, token).get("/console/try")
    english_page = _signed_in(english, token).get("/console/try")

    assert chinese_page.status_code == english_page.status_code == 200
    names = _signed_in(console_settings, token).get("/v2/models/fire_risk").json()["parameters"]["feature_names"]
    form = english_page.text[english_page.text.index('<fieldset data-algorithm="fire_risk"') :]
    form = form[: form.index("</fieldset>")]
    assert re.findall(r'data-feature="([^"]+)"', form) == names  # every model feature, in the model's order
    humidity = next(spec for spec in service_spec("fire_risk").features if spec.name == "mean_humidity_pct")
    assert humidity.description in form and "Range 0 – 100" in form  # noqa: RUF001 (the en dash the page shows)
    assert 'aria-describedby="wf-fire_risk-mean_humidity_pct-help wf-fire_risk-mean_humidity_pct-error"' in form
    assert "Score the edited row" in english_page.text and "按编辑后的特征评分" not in english_page.text
    assert "按编辑后的特征评分" in chinese_page.text
    script = re.search(r'<script type="application/json" id="whatif-labels">(.*?)</script>', chinese_page.text)
    assert script is not None
    assert json.loads(script.group(1))["max"] == "超出范围：不能大于 {bound}"  # noqa: RUF001 (the script's words, in the language too)


def test_try_it_needs_the_score_permission(console_settings: Settings) -> None:
    _, _, token = _key(console_settings, Role.AUDITOR)

    refused = _signed_in(console_settings, token).get("/console/try")

    assert refused.status_code == 403
    assert "lacks the permission score" in refused.text


def test_behind_a_route_prefix_links_redirects_and_api_calls_keep_the_prefix(console_settings: Settings) -> None:
    """Served under a prefix (a reverse proxy's root path, or the Ray engine's route prefix), every link,
    form, redirect and script call of the console starts with it, and refusals are still pages."""
    _, _, token = _key(console_settings, Role.ADMIN)
    client = TestClient(create_app(console_settings), base_url="http://127.0.0.1", root_path="/gw")

    unsigned = client.get("/gw/console/alerts", follow_redirects=False)
    signed = client.post("/gw/console/login", data={"key": token, "next": "/console/jobs"}, follow_redirects=False)
    page = client.get("/gw/console").text
    logout = client.post("/gw/console/logout", follow_redirects=False)

    assert (unsigned.status_code, unsigned.headers["location"]) == (303, "/gw/console/login?next=%2Fconsole%2Falerts")
    assert (signed.status_code, signed.headers["location"]) == (303, "/gw/console/jobs")
    assert 'data-root="/gw"' in page  # console.js prefixes its /v1 calls with it
    links = re.findall(r'(?:href|action|src|data-url|hx-get)="(/[^"]*)"', page)
    assert links and all(link.startswith("/gw/") for link in links), links
    assert 'href="/gw/console" aria-current="page"' in page  # the current page is still recognised
    assert (logout.status_code, logout.headers["location"]) == (303, "/gw/console/login")
