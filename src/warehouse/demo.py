"""``warehouse demo``: the fire-risk flow end to end on the embedded defaults, narrated.

Generates the building population, fills the feature store, trains and publishes a champion, calls
the serving engine (local or Ray) over HTTP (as the application ``demo-app``, with a key granted
``fire_risk`` that is revoked afterwards), and scores the whole population in batch; then prints where
to look, with the node's first admin API key when the demo created it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from rich.table import Table

from warehouse.console import BarAdvance, new_progress
from warehouse.pipeline import initialize, prepare_features, train_and_publish

if TYPE_CHECKING:
    from pathlib import Path

    import httpx
    from rich.console import Console

    from serving.schemas import ScoreResponse
    from warehouse.identity import IssuedKey
    from warehouse.settings import Settings

SAMPLE_BUILDINGS = ("B0000001", "B0000002", "B0000003", "B9999999")
"""Three real buildings and one id that does not exist, to show per-entity errors."""
DEMO_APPLICATION = "demo-app"
DEMO_KEY_LIFETIME = dt.timedelta(hours=1)


def run_demo(settings: Settings, *, n_buildings: int, seed: int, console: Console) -> None:
    """Run every step, showing progress, and finish with where to look."""
    from warehouse.identity import bootstrap_admin

    started = time.perf_counter()
    initialize(settings)
    admin_key = bootstrap_admin(settings)  # before demo-app exists: only a node without principals gets one
    with new_progress(console) as progress:
        features = progress.add_task("1/4 features: generate, apply, materialise", total=3)
        manifest, materialized = prepare_features(
            settings, n_entities=n_buildings, seed=seed, on_progress=BarAdvance(progress, features)
        )
        training = progress.add_task("2/4 train, convert to ONNX, register", total=3)
        published = train_and_publish(
            settings, "fire_risk", seed=seed, actor="demo", on_progress=BarAdvance(progress, training)
        )
        serving = progress.add_task(f"3/4 serve ({settings.engine} engine) and call /v1/score/fire_risk", total=1)
        answer = _call_engine(settings)
        progress.advance(serving)
        batch = progress.add_task("4/4 batch-score the population", total=manifest.n_entities)
        from scheduling.batch import score_population

        report = score_population(settings, "fire_risk", on_progress=BarAdvance(progress, batch))
    console.print(
        f"\n[bold]Features[/bold]: {manifest.n_entities:,} buildings x {manifest.months} months; "
        f"{sum(materialized.rows_per_view.values()):,} rows materialised "
        f"into the {materialized.online_store} online store",
        soft_wrap=True,
    )
    headline = ("roc_auc", "pr_auc", "brier", "ks", "base_rate")
    metrics = "  ".join(f"{name}={published.metrics[name]:.4f}" for name in headline if name in published.metrics)
    console.print(
        f"[bold]Model[/bold]: {published.model_name} v{published.version} -> alias {published.alias}; "
        f"train {published.train_rows:,} rows, hold-out {published.holdout_rows:,} rows\n  {metrics}\n"
        f"  ONNX vs LightGBM max |diff| = {published.parity_max_abs_diff:.2e}",
        soft_wrap=True,
    )
    console.print(_answer_table(answer))
    console.print(
        f"[bold]Batch[/bold]: {report.rows:,} buildings scored with v{report.model_version} in {report.seconds:.1f} s "
        f"({report.rows_per_s:,.0f} rows/s), run {report.run_id}",
        soft_wrap=True,
    )
    _print_where_to_look(settings, report.output_dir, console, admin_key=admin_key)
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s")


def _call_engine(settings: Settings) -> ScoreResponse:
    import httpx

    from serving.engines.base import load_engine
    from serving.schemas import ScoreResponse
    from warehouse.identity import provision_caller, revoke_key
    from warehouse.permissions import Role

    key = provision_caller(
        settings,
        name=DEMO_APPLICATION,
        kind="application",
        roles=[Role.APP],
        clearance="internal",
        grants=["fire_risk"],
        expires_in=DEMO_KEY_LIFETIME,
        actor="demo",
    )
    headers = {"Authorization": f"Bearer {key.token}"}
    try:
        with (
            load_engine(settings).running() as base_url,
            httpx.Client(base_url=base_url, timeout=60, headers=headers) as client,
        ):
            _wait_ready(client)
            response = client.post("/v1/score/fire_risk", json={"entities": list(SAMPLE_BUILDINGS)})
            response.raise_for_status()
            return ScoreResponse.model_validate(response.json())
    finally:
        revoke_key(settings, key.key_id, actor="demo")


def _wait_ready(client: httpx.Client, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/v2/health/ready").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server was not ready within {timeout_s:.0f} s")
        time.sleep(0.1)


def _answer_table(answer: ScoreResponse) -> Table:
    table = Table(
        "building",
        "score",
        "level",
        "warning",
        "error",
        title=(f"POST /v1/score/fire_risk -> {answer.model_name} v{answer.model_version} ({answer.alias})"),
    )
    for result in answer.results:
        table.add_row(
            result.entity_id or "-",
            "-" if result.score is None else f"{result.score:.4f}",
            result.level or "-",
            "-" if result.warning is None else str(result.warning),
            result.error.code if result.error else "",
        )
    return table


def _print_where_to_look(
    settings: Settings, output_dir: Path, console: Console, *, admin_key: IssuedKey | None
) -> None:
    cli = f".venv/bin/warehouse --data-dir {settings.data_dir}"
    lines = [
        "\n[bold]Where to look[/bold]",
        f"  data dir        {settings.data_dir}",
        f"  batch results   {output_dir}",
        f"  MLflow UI       .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_uri}",
        f"  serve the API   {cli} serve  (then open http://{settings.host}:{settings.port}/docs)",
        f"  web console     http://{settings.host}:{settings.port}/console  (while serving; sign in with an API key)",
        f"  alias history   {cli} models history fire_risk",
        f"  API keys        {cli} principals list; {cli} keys create NAME  (every route but health needs one)",
    ]
    if admin_key is not None:
        lines.append(f"  admin API key   {admin_key.token}  (shown only now; paste it to sign in to the console)")
    else:
        lines.append(f"  console key     {cli} keys create admin  (the admin key was shown on the first run)")
    console.print("\n".join(lines), soft_wrap=True)
