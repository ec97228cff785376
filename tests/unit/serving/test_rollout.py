"""Canary and shadow rollouts of a challenger, end to end through the app, and the comparison report.

A module-scoped warehouse adds a fire-risk challenger (version 2, trained with another seed) to the
prepared one; each test scores through its own copy, served by each engine (the Ray engine runs the
same app, so the same routing and log). The canary split is checked against the hash it is defined
by (so the statistics are deterministic), and shadow answers against the champion's answers with
the rollout off. The log is read back from the database once the worker has written the rows.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from serving.canary import canary_bucket
from serving.comparison import ComparisonLog, ComparisonRecord, ComparisonRow, compare_models
from serving.metrics import ServingMetrics
from tests.auth_helpers import caller_headers
from tests.engines import ENGINES, serving, wait_for_score
from warehouse.api import create_app
from warehouse.audit import list_entries
from warehouse.cli import app as cli_app
from warehouse.db import open_metadata_db
from warehouse.errors import ChallengerMissing
from warehouse.settings import Settings

SCORE = "/v1/score/fire_risk"
ROLLOUT = "/v1/models/fire_risk/rollout"
MEASURED = [f"B{number:07d}" for number in range(1, 400)]
WAIT_ENTITY = "B0000400"
"""Scored while waiting for a rollout to arrive; kept out of the measured entities."""


@pytest.fixture(scope="module")
def challenger_warehouse(prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prepared warehouse plus a fire-risk challenger, version 2 (another seed, so other scores)."""
    from warehouse.pipeline import train_and_publish

    root = tmp_path_factory.mktemp("challenger") / "wh"
    shutil.copytree(prepared_warehouse, root)
    published = train_and_publish(Settings(data_dir=root), "fire_risk", seed=11, actor="scientist", alias="challenger")
    assert published.version == "2"
    return root


@pytest.fixture
def challenger_settings(challenger_warehouse: Path, tmp_path: Path) -> Settings:
    """Settings over this test's copy of the challenger warehouse."""
    shutil.copytree(challenger_warehouse, tmp_path / "wh")
    return Settings(data_dir=tmp_path / "wh")


@pytest.fixture(params=ENGINES)
def served(request: pytest.FixtureRequest, challenger_settings: Settings) -> Iterator[httpx.Client]:
    """The started app over the challenger warehouse, called with an admin key, served by each engine."""
    headers = caller_headers(challenger_settings, "admin", name="ops")
    with serving(request.param, challenger_settings, headers, request) as client:
        yield client


def _score(client: httpx.Client, entities: list[str], **extra: object) -> dict[str, object]:
    response = client.post(SCORE, json={"entities": entities, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _wait_for_rollout(client: httpx.Client, mode: str | None) -> None:
    """Score :data:`WAIT_ENTITY` until the server answers under ``mode``; hot reload polls governance."""
    wait_for_score(
        client,
        lambda response: response.status_code == 200 and response.json().get("rollout") == mode,
        f"answered under rollout {mode}",
        {"entities": [WAIT_ENTITY]},
    )


def _logged(settings: Settings, mode: str, entity_ids: list[str], *, rows: int) -> list[ComparisonRecord]:
    """The log's ``mode`` rows of ``entity_ids`` once there are ``rows`` of them (the worker writes in order,
    so every job queued before them is written too); fails at a deadline."""
    deadline = time.monotonic() + 120
    query = select(ComparisonRecord).where(ComparisonRecord.mode == mode, ComparisonRecord.entity_id.in_(entity_ids))
    while True:
        with open_metadata_db(settings) as db, db.session() as session:
            records = list(session.scalars(query.order_by(ComparisonRecord.id)))
        if len(records) >= rows:
            return records
        if time.monotonic() > deadline:
            pytest.fail(f"{len(records)} of {rows} {mode} rows logged within 120 s")
        time.sleep(0.1)


def _wait_rows(settings: Settings, mode: str) -> list[ComparisonRecord]:
    """Every ``mode`` row of :data:`WAIT_ENTITY` written so far."""
    with open_metadata_db(settings) as db, db.session() as session:
        query = select(ComparisonRecord).where(ComparisonRecord.mode == mode, ComparisonRecord.entity_id == WAIT_ENTITY)
        return list(session.scalars(query))


def test_canary_bucket_is_stable_across_processes_and_uniform() -> None:
    code = "from serving.canary import canary_bucket; print(repr(canary_bucket('fire_risk', 'B0000001')))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},  # Python's own hash() would differ here
    )
    buckets = [canary_bucket("fire_risk", f"E{number}") for number in range(20_000)]
    share = sum(bucket < 0.1 for bucket in buckets) / len(buckets)

    assert float(other.stdout) == canary_bucket("fire_risk", "B0000001")
    assert all(0.0 <= bucket < 1.0 for bucket in buckets)
    assert abs(share - 0.1) < 4 * (0.1 * 0.9 / len(buckets)) ** 0.5  # within four binomial sigmas
    assert canary_bucket("fire_risk", "E1") != canary_bucket("risk_scoring", "E1")  # keyed by model too


def test_canary_sends_a_sticky_share_of_entities_to_the_challenger(
    served: httpx.Client, challenger_settings: Settings
) -> None:
    set_to = served.put(ROLLOUT, json={"mode": "canary", "canary_share": 0.3, "reason": "try v2 on 30%"})
    assert set_to.status_code == 200, set_to.text
    assert (set_to.json()["mode"], set_to.json()["canary_share"], set_to.json()["actor"]) == ("canary", 0.3, "ops")
    _wait_for_rollout(served, "canary")

    first, again = _score(served, MEASURED), _score(served, MEASURED)
    answered = [result for result in first["results"] if result["score"] is not None]  # type: ignore[union-attr]
    to_challenger = {result["entity_id"] for result in answered if result["alias"] == "challenger"}
    expected = {result["entity_id"] for result in answered if canary_bucket("fire_risk", result["entity_id"]) < 0.3}

    assert (first["rollout"], first["model_version"]) == ("canary", "1")
    assert len(answered) == len(MEASURED)
    assert to_challenger == expected  # exactly the entities the hash picks
    assert abs(len(to_challenger) / len(answered) - 0.3) < 4 * (0.3 * 0.7 / len(answered)) ** 0.5
    assert all(result["model_version"] == ("2" if result["alias"] == "challenger" else "1") for result in answered)
    assert again["results"] == first["results"]  # sticky: every entity on the same arm, with the same answer
    records = _logged(challenger_settings, "canary", MEASURED, rows=2 * len(MEASURED))
    logged_arms = Counter(record.served_by for record in records)
    assert logged_arms == {"challenger": 2 * len(to_challenger), "champion": 2 * (len(MEASURED) - len(to_challenger))}
    waits = Counter(record.served_by for record in _wait_rows(challenger_settings, "canary"))
    arms = {arm.arm: arm for arm in compare_models(challenger_settings, "fire_risk").canary}
    assert {arm: summary.answers for arm, summary in arms.items()} == {
        arm: logged_arms[arm] + waits[arm] for arm in ("champion", "challenger")
    }
    assert arms["champion"].versions == ["1"] and arms["challenger"].versions == ["2"]
    assert compare_models(challenger_settings, "fire_risk").pairs == 0  # one arm per entity: nothing to pair


def test_shadow_answers_with_the_champion_and_logs_the_challenger(
    served: httpx.Client, challenger_settings: Settings
) -> None:
    entities = MEASURED[:50]
    before = _score(served, entities)
    challenger = _score(served, entities, alias="challenger")  # named alias: no rollout applies

    assert served.put(ROLLOUT, json={"mode": "shadow", "reason": "compare quietly"}).status_code == 200
    _wait_for_rollout(served, "shadow")
    during = _score(served, entities)

    assert (during["rollout"], during["model_version"]) == ("shadow", "1")
    assert during["results"] == before["results"]  # the caller's answer never changes
    logged = {record.entity_id: record for record in _logged(challenger_settings, "shadow", entities, rows=50)}
    for mine, theirs in zip(before["results"], challenger["results"], strict=True):  # type: ignore[call-overload]
        record = logged[mine["entity_id"]]
        assert (record.champion_version, record.challenger_version) == ("1", "2")
        assert (record.champion_score, record.champion_level) == (mine["score"], mine["level"])
        assert record.challenger_score == pytest.approx(theirs["score"], abs=1e-6)
        assert record.challenger_level == theirs["level"]
    report = compare_models(challenger_settings, "fire_risk")
    assert report.pairs == len(entities) + len(_wait_rows(challenger_settings, "shadow"))
    assert report.version_pairs == ["1->2"]
    assert report.level_agreement is not None and 0.0 <= report.level_agreement <= 1.0
    assert report.max_abs_score_diff is not None and report.max_abs_score_diff > 0.0  # another seed, other scores


def test_a_rollout_change_is_audited_and_in_the_history(challenger_settings: Settings) -> None:
    # Routes and records only, the same code on either engine: in process, without a Ray deployment.
    served = TestClient(
        create_app(challenger_settings), headers=caller_headers(challenger_settings, "admin", name="ops")
    )
    assert served.put(ROLLOUT, json={"mode": "shadow", "reason": "first"}).status_code == 200
    assert served.put(ROLLOUT, json={"mode": "off", "reason": "done"}).status_code == 200

    current = served.get(ROLLOUT).json()
    history = served.get("/v1/models/fire_risk/history").json()["rollouts"]
    audit = served.get("/v1/audit", params={"subject": "fire_risk/challenger"}).json()

    assert (current["mode"], current["reason"], current["canary_share"]) == ("off", "done", None)
    assert [(step["from_mode"], step["mode"], step["challenger_version"]) for step in history] == [
        (None, "shadow", "2"),
        ("shadow", "off", "2"),
    ]
    rollout_entries = [entry for entry in audit if entry["action"] == "rollout.set"]  # alias moves share the subject
    assert [(entry["actor"], entry["detail"]["from_mode"], entry["detail"]["mode"]) for entry in rollout_entries] == [
        ("ops", "shadow", "off"),
        ("ops", None, "shadow"),
    ]


def test_rollout_is_refused_without_a_challenger(settings: Settings, admin_headers: dict[str, str]) -> None:
    client = TestClient(create_app(settings), headers=admin_headers)

    canary = client.put(ROLLOUT, json={"mode": "canary", "canary_share": 0.2})
    shadow = client.put(ROLLOUT, json={"mode": "shadow"})
    no_share = client.put(ROLLOUT, json={"mode": "canary"})
    off = client.put(ROLLOUT, json={"mode": "off", "reason": "nothing to roll out"})
    cli = CliRunner().invoke(
        cli_app, ["--data-dir", str(settings.data_dir), "models", "rollout", "fire_risk", "--shadow"]
    )

    for refused in (canary, shadow):
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "challenger_missing")
        assert "has no 'challenger' alias" in refused.json()["error"]["message"]
    assert (no_share.status_code, no_share.json()["error"]["code"]) == (422, "invalid_request")
    assert (off.status_code, off.json()["mode"]) == (200, "off")
    assert cli.exit_code == 1 and isinstance(cli.exception, ChallengerMissing)  # main() prints it in one line
    assert [entry.detail["mode"] for entry in list_entries(settings) if entry.action == "rollout.set"] == ["off"]


def test_the_cli_sets_a_canary_and_prints_the_comparison(challenger_settings: Settings) -> None:
    runner = CliRunner()
    data_dir = ["--data-dir", str(challenger_settings.data_dir)]

    both = runner.invoke(cli_app, [*data_dir, "models", "rollout", "fire_risk", "--canary", "0.1", "--shadow"])
    canary = runner.invoke(cli_app, [*data_dir, "models", "rollout", "fire_risk", "--canary", "0.1", "--reason", "10%"])
    _write_known_log(challenger_settings)
    compared = runner.invoke(cli_app, [*data_dir, "models", "compare", "fire_risk"])

    assert both.exit_code == 1 and "exactly one of" in str(both.exception)
    assert canary.exit_code == 0, canary.output
    assert "fire_risk rollout: canary 10.0% of entities" in canary.output
    history = runner.invoke(cli_app, [*data_dir, "models", "history", "fire_risk"])
    assert history.exit_code == 0 and "rollouts of fire_risk" in history.output
    assert "10.0%" in history.output and "canary" in history.output
    assert compared.exit_code == 0, compared.output
    for fragment in ("compared pairs", "│ 4 ", "75.0%", "0.0625", "Spearman", "level confusion", "canary arms"):
        assert fragment in compared.output, fragment


KNOWN_PAIRS = (  # entity, champion score and level, challenger score and level
    ("E1", 0.1, "low", 0.1, "low"),
    ("E2", 0.2, "low", 0.25, "high"),
    ("E3", 0.3, "high", 0.2, "high"),
    ("E4", 0.4, "high", 0.5, "high"),
)


def _write_known_log(settings: Settings, *, at: dt.datetime | None = None) -> None:
    """Four shadow pairs and three canary answers (two champion, one challenger), straight into the log."""
    moment = at or dt.datetime.now(dt.UTC)
    records = [
        ComparisonRecord(
            model_name="fire_risk", entity_id=entity, mode="shadow", served_by="champion", champion_version="1",
            challenger_version="2", champion_score=left, challenger_score=right, champion_level=left_level,
            challenger_level=right_level, at=moment,
        )
        for entity, left, left_level, right, right_level in KNOWN_PAIRS
    ] + [
        ComparisonRecord(
            model_name="fire_risk", entity_id=entity, mode="canary", served_by=arm, champion_version="1",
            challenger_version="2", champion_score=score if arm == "champion" else None,
            challenger_score=score if arm == "challenger" else None,
            champion_level="low" if arm == "champion" else None,
            challenger_level="high" if arm == "challenger" else None,
            at=moment,
        )
        for entity, arm, score in (("E5", "champion", 0.2), ("E6", "champion", 0.4), ("E7", "challenger", 0.9))
    ]  # fmt: skip
    with open_metadata_db(settings) as db, db.session() as session:
        session.add_all(records)


def test_compare_figures_on_a_known_log(settings: Settings, admin_headers: dict[str, str]) -> None:
    _write_known_log(settings, at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    report = compare_models(settings, "fire_risk")
    later = compare_models(settings, "fire_risk", since=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    over_http = TestClient(create_app(settings), headers=admin_headers).get("/v1/models/fire_risk/compare")

    assert report.pairs == 4 and report.version_pairs == ["1->2"]
    assert report.level_agreement == pytest.approx(0.75)
    assert report.mean_abs_score_diff == pytest.approx((0.0 + 0.05 + 0.1 + 0.1) / 4)
    assert report.max_abs_score_diff == pytest.approx(0.1)
    # Pearson by its definition; Spearman: ranks 1,2,3,4 against 1,3,2,4, so 1 - 6 * 2 / (4 * 15).
    left, right = [pair[1] for pair in KNOWN_PAIRS], [pair[3] for pair in KNOWN_PAIRS]
    mean_left, mean_right = sum(left) / 4, sum(right) / 4
    covariance = sum((a - mean_left) * (b - mean_right) for a, b in zip(left, right, strict=True))
    spread = (sum((a - mean_left) ** 2 for a in left) * sum((b - mean_right) ** 2 for b in right)) ** 0.5
    assert report.pearson == pytest.approx(covariance / spread)
    assert report.spearman == pytest.approx(0.8)
    assert [(cell.champion_level, cell.challenger_level, cell.count) for cell in report.level_confusion] == [
        ("high", "high", 2),
        ("low", "high", 1),
        ("low", "low", 1),
    ]
    arms = {arm.arm: arm for arm in report.canary}
    assert (arms["champion"].answers, arms["champion"].mean_score, arms["champion"].levels) == (
        2,
        pytest.approx(0.3),
        {"low": 2},
    )
    assert (arms["challenger"].answers, arms["challenger"].score_quantiles["p50"]) == (1, pytest.approx(0.9))
    assert (later.pairs, later.level_agreement, later.pearson, later.canary[0].answers) == (0, None, None, 0)
    assert over_http.status_code == 200
    assert over_http.json()["pairs"] == 4 and over_http.json()["spearman"] == pytest.approx(0.8)


def test_a_full_log_queue_drops_and_counts_without_blocking(settings: Settings) -> None:
    metrics = ServingMetrics()
    log = ComparisonLog(settings, metrics, queue_size=1)
    release, started = threading.Event(), threading.Event()

    def slow() -> list[ComparisonRow]:
        started.set()
        assert release.wait(60)
        return [ComparisonRow(model_name="m", entity_id="E1", mode="shadow", served_by="champion",
                              champion_version="1", challenger_version="2", champion_score=0.1,
                              challenger_score=0.2, champion_level="low", challenger_level="low")]  # fmt: skip

    def quick() -> list[ComparisonRow]:
        return []

    assert log.submit(model_name="m", mode="shadow", job=slow)
    assert started.wait(60)  # the worker holds the first job
    accepted = [log.submit(model_name="m", mode="shadow", job=quick) for _ in range(3)]
    release.set()
    assert log.flush(timeout_s=60)
    log.stop()

    assert accepted == [True, False, False]
    dropped = metrics.registry.get_sample_value(
        "warehouse_comparison_jobs_dropped_total", {"model": "m", "mode": "shadow"}
    )
    logged = metrics.registry.get_sample_value(
        "warehouse_comparison_rows_logged_total", {"model": "m", "mode": "shadow"}
    )
    assert (dropped, logged) == (2.0, 1.0)
    assert compare_models(settings, "m").pairs == 1
