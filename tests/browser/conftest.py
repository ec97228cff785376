"""Browser tests of the web console: the real app under uvicorn, driven by Debian's Chromium.

One populated warehouse per module (a copy of the prepared one, plus two more fire-risk versions that
``alice`` submitted for review, a nightly job and three principals), served on a free port by
uvicorn in a thread. Chromium comes from Debian (``make test`` installs it; never
``playwright install``). Every test gets a fresh browser context (no cookies) and a
:class:`Walk`, whose steps fail with the text of the page and leave a screenshot in
``tests/artifacts/browser/``.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright

from warehouse.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
CARD_USE = "建筑火灾风险分级, 供消防监督抽查使用"
"""The intended use on the card of the version in review: Chinese text must survive to the page."""
JOB = "nightly-fire"


@dataclass(frozen=True)
class ConsoleServer:
    """The served warehouse: its URL, settings, and the sign-in key of each principal."""

    base_url: str
    settings: Settings
    keys: dict[str, str]
    review_version: str
    reject_version: str


def _seed(settings: Settings) -> tuple[dict[str, str], str, str]:
    """Principals alice (scientist + reviewer), bob (reviewer), ops (admin); v2 and v3 in review by alice; a job."""
    from registry.card import ModelCardUpdate
    from registry.lifecycle import submit
    from registry.models import register_version, resolve_version
    from scheduling.jobs import add_job
    from scheduling.specs import JobSpec, WarningThresholds
    from warehouse.identity import provision_caller
    from warehouse.permissions import Role

    roles = {"alice": [Role.SCIENTIST, Role.REVIEWER], "bob": [Role.REVIEWER], "ops": [Role.ADMIN]}
    keys = {
        name: provision_caller(settings, name=name, roles=granted, clearance="restricted", actor="tests").token
        for name, granted in roles.items()
    }
    champion = resolve_version(settings, model_name="fire_risk", alias_or_version="champion")
    assert champion.run_id is not None
    ref = register_version(settings, run_id=champion.run_id, model_name="fire_risk", actor="alice")
    card = ModelCardUpdate(
        intended_use=CARD_USE,
        owner_department="消防救援支队",
        limitations="Synthetic data only.",
        classification="internal",
    )
    submit(settings, model_name="fire_risk", version=ref.version, actor="alice", reason="retrained", card=card)
    second = register_version(settings, run_id=champion.run_id, model_name="fire_risk", actor="alice")
    submit(settings, model_name="fire_risk", version=second.version, actor="alice", reason="same run again", card=card)
    add_job(
        settings,
        JobSpec(name=JOB, algorithm="fire_risk", cron="0 2 * * *", thresholds=WarningThresholds(min_level="medium")),
    )
    return keys, ref.version, second.version


@contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free port in a thread, until its models are loaded; stopped afterwards."""
    import uvicorn

    from warehouse.api import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    try:
        base_url = _wait_started(server, thread)
        _wait_ready(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _wait_started(server: object, thread: threading.Thread, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not getattr(server, "started", False):
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # uvicorn.Server
    return f"http://127.0.0.1:{port}"


def _wait_ready(base_url: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (status := httpx.get(f"{base_url}/v2/health/ready", timeout=10).status_code) != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"the console's server was not ready after {timeout_s} s (last status {status})")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def console_server(prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """The module's populated warehouse, served."""
    root = tmp_path_factory.mktemp("console-browser") / "wh"
    shutil.copytree(prepared_warehouse, root)
    settings = Settings(data_dir=root)
    keys, version, rejected = _seed(settings)
    with _serving(settings) as base_url:
        yield ConsoleServer(
            base_url=base_url, settings=settings, keys=keys, review_version=version, reject_version=rejected
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the module."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (see the Makefile)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Walk:
    """One person's walk through the console: named steps, screenshots, and the page text on failure."""

    def __init__(self, page: Page, base_url: str, test_name: str) -> None:
        self.page = page
        self.base_url = base_url
        self._name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self._shots = 0

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """A step of the walk; a failure inside it names the step and shows what the page said."""
        try:
            yield
        except (AssertionError, Error) as exc:
            shot = self.screenshot(f"failed-{what}")
            text = self.page.inner_text("body") if self.page.url.startswith("http") else "(no page)"
            raise AssertionError(
                f"step {what!r} failed: {exc}\n--- {self.page.url} (screenshot {shot}) ---\n{text[:4000]}"
            ) from exc
        self.screenshot(what)

    def screenshot(self, label: str) -> Path:
        """Save a full-page screenshot as a test artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        path = ARTIFACTS / f"{self._name}-{self._shots:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', label)[:60]}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def open(self, path: str) -> None:
        """Go to a console path."""
        self.page.goto(f"{self.base_url}{path}")

    def sign_in(self, key: str, *, start: str = "/console") -> None:
        """Open ``start`` (which sends an unsigned visitor to the sign-in page), paste the key, go on."""
        self.open(start)
        expect(self.page.locator("#key")).to_be_visible()
        self.page.fill("#key", key)
        self.page.keyboard.press("Enter")
        expect(self.page.locator("#principal")).to_be_visible()

    def sign_out(self) -> None:
        """Press the sign-out button and land on the sign-in page."""
        self.page.locator("form.who button").click()
        expect(self.page.locator("#key")).to_be_visible()


@pytest.fixture
def walk(browser: Browser, console_server: ConsoleServer, request: pytest.FixtureRequest) -> Iterator[Walk]:
    """A fresh browser context at 1280x800 (Chinese labels), and the walk through it."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(30_000)
    try:
        yield Walk(context.new_page(), console_server.base_url, request.node.name)
    finally:
        context.close()
