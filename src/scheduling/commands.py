"""The ``warehouse jobs``, ``warehouse scheduler`` and ``warehouse alerts`` sub-commands.

:mod:`warehouse.cli` adds these sub-apps and maps domain errors to exit code 1. Settings come from
the root callback through the typer context; the rest of the scheduling package (and what it pulls
in) is imported inside each command so that ``warehouse --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.console import BarAdvance, new_progress
from warehouse.errors import InvalidRequest

if TYPE_CHECKING:
    from scheduling.alerts import Alert, AlertAction
    from scheduling.inspections import InspectionDraw
    from scheduling.jobs import JobView, RunView
    from scheduling.specs import ExecutorName, FeatureSource
    from warehouse.settings import Settings

console = Console()
jobs_app = typer.Typer(help="Scheduled batch-scoring jobs and their runs.", no_args_is_help=True)
scheduler_app = typer.Typer(help="The scheduler that runs due jobs.", no_args_is_help=True)
alerts_app = typer.Typer(help="Early-warning alerts raised by job runs.", no_args_is_help=True)
inspections_app = typer.Typer(
    help='"双随机" random inspection lists drawn from credit-supervision runs, weighted by grade.',
    no_args_is_help=True,
)

JobName = Annotated[str, typer.Argument(help="Job name.")]
AlertId = Annotated[int, typer.Argument(help="Alert id.")]
Actor = Annotated[str, typer.Option(help="Who acts on the alert (recorded).")]
FeaturesOption = Annotated[
    str,
    typer.Option(
        help="Feature read: latest (each entity's latest values, DuckDB over the offline parquet) | "
        "point-in-time (Feast's point-in-time join at the run's as-of instant). Same values."
    ),
]


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.find_root().obj
    return settings


def _json_option(text: str | None, what: str) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc.msg}") from None


@jobs_app.command("add")
def jobs_add(
    ctx: typer.Context,
    name: JobName,
    algorithm: Annotated[str, typer.Option(help="Algorithm to score with, e.g. fire_risk.")],
    cron: Annotated[str, typer.Option(help="Crontab (5 fields, or 6 with seconds first), in UTC.")],
    alias: Annotated[str, typer.Option(help="Model alias to resolve at each run.")] = "champion",
    version: Annotated[str | None, typer.Option(help="Pin this model version instead of an alias.")] = None,
    population_filter: Annotated[
        str | None, typer.Option("--filter", help="Population filter as JSON, e.g. '{\"district_code\": [110101]}'.")
    ] = None,
    thresholds: Annotated[
        str | None, typer.Option(help='Warning thresholds as JSON, e.g. \'{"score": 0.8, "min_level": "high"}\'.')
    ] = None,
    output: Annotated[str | None, typer.Option(help="Output dir (relative: inside the results dir).")] = None,
    misfire: Annotated[str, typer.Option(help="After downtime: skip | catch_up.")] = "skip",
    delivery: Annotated[
        str | None,
        typer.Option(
            help='Alert delivery as JSON, e.g. \'{"webhooks": ["https://…"], "redis_stream": "fire:alerts"}\'.'
        ),
    ] = None,
    features: FeaturesOption = "latest",
    executor: Annotated[
        str, typer.Option(help="Executor of the job's runs: local (ONNX Runtime in-process) | ray (Ray Data).")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster for --executor ray (default: a Ray in-process per run).")
    ] = None,
) -> None:
    """Add a scheduled batch-scoring job."""
    from pydantic import ValidationError

    from scheduling.jobs import add_job
    from scheduling.specs import JobSpec

    fields = {
        "name": name,
        "algorithm": algorithm,
        "cron": cron,
        "alias": alias,
        "version": version,
        "population_filter": _json_option(population_filter, "--filter") or {},
        "thresholds": _json_option(thresholds, "--thresholds"),
        "output": output,
        "misfire": misfire,
        "delivery": _json_option(delivery, "--delivery"),
        "features": features,
        "executor": executor,
        "ray_address": ray_address,
    }
    try:
        spec = JobSpec.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    _print_job(add_job(_settings(ctx), spec))


@jobs_app.command("list")
def jobs_list(ctx: typer.Context) -> None:
    """Every job with its schedule and state."""
    from scheduling.jobs import list_jobs

    table = Table("name", "algorithm", "model", "cron", "misfire", "state", title="jobs")
    for job in list_jobs(_settings(ctx)):
        spec = job.spec
        state = "paused" if job.paused else "active"
        table.add_row(spec.name, spec.algorithm, spec.version or spec.alias, spec.cron, spec.misfire, state)
    console.print(table)


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, name: JobName) -> None:
    """One job's full spec."""
    from scheduling.jobs import get_job

    _print_job(get_job(_settings(ctx), name))


@jobs_app.command("pause")
def jobs_pause(ctx: typer.Context, name: JobName) -> None:
    """Pause a job: the scheduler leaves it alone until it is resumed."""
    from scheduling.jobs import set_paused

    _print_job(set_paused(_settings(ctx), name, paused=True))


@jobs_app.command("resume")
def jobs_resume(ctx: typer.Context, name: JobName) -> None:
    """Make a paused job active again."""
    from scheduling.jobs import set_paused

    _print_job(set_paused(_settings(ctx), name, paused=False))


@jobs_app.command("run")
def jobs_run(
    ctx: typer.Context,
    name: JobName,
    executor: Annotated[
        str | None, typer.Option(help="local | ray; default: the executor the job's spec names.")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --executor ray; default: the job's, else in-process.")
    ] = None,
) -> None:
    """Run a job once now, outside its schedule, with a progress bar."""
    from scheduling.jobs import get_job, run_execution, run_job_now

    settings = _settings(ctx)
    spec = get_job(settings, name).spec
    execute = run_execution(parse_executor(executor or spec.executor), address=address or spec.ray_address)
    with new_progress(console) as progress:
        task = progress.add_task(f"Job {name}", total=None)
        report = run_job_now(settings, name, on_progress=BarAdvance(progress, task), execute=execute)
    console.print(
        f"run {report.run_id}: {report.rows:,} rows with {report.model_name} v{report.model_version} "
        f"({report.rows_per_s:,.0f} rows/s) -> {report.output_dir}",
        soft_wrap=True,
    )


def parse_executor(executor: str) -> ExecutorName:
    """``--executor`` checked: local or ray."""
    if executor == "local":
        return "local"
    if executor == "ray":
        return "ray"
    raise InvalidRequest(f"--executor must be local or ray, got {executor!r}")


def parse_feature_source(features: str) -> FeatureSource:
    """``--features`` checked: latest or point-in-time."""
    if features == "latest":
        return "latest"
    if features == "point-in-time":
        return "point-in-time"
    raise InvalidRequest(f"--features must be latest or point-in-time, got {features!r}")


@jobs_app.command("backfill")
def jobs_backfill(
    ctx: typer.Context,
    name: JobName,
    start: Annotated[str, typer.Option(help="First instant of the range, ISO 8601 (naive = UTC).")],
    end: Annotated[str, typer.Option(help="Last instant of the range, ISO 8601 (naive = UTC); not in the future.")],
) -> None:
    """Run the job's fire times in [start, end] that never ran (each fire time runs once, ever)."""
    from scheduling.scheduler import backfill_job

    report = backfill_job(_settings(ctx), name, start=_instant(start, "--start"), end=_instant(end, "--end"))
    table = Table("fire time", "outcome", "run", title=f"backfill {name}")
    for fire_time in sorted([*report.ran, *report.already_claimed, *report.failed]):
        if fire_time in report.ran:
            table.add_row(str(fire_time), "ran", report.ran[fire_time][:12])
        else:
            table.add_row(str(fire_time), "failed" if fire_time in report.failed else "already claimed", "-")
    console.print(table)
    console.print(
        f"{len(report.ran)} ran, {len(report.already_claimed)} already claimed, {len(report.failed)} failed",
        soft_wrap=True,
    )


def _instant(text: str, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{what} is not an ISO 8601 date or time: {text!r}") from None


@jobs_app.command("runs")
def jobs_runs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most runs to list.")] = 20,
) -> None:
    """Recent runs, newest first: status, rows done/total, rate, pinned model version."""
    from scheduling.jobs import list_runs

    _print_runs(list_runs(_settings(ctx), job_name=name, limit=limit))


@scheduler_app.command("start")
def scheduler_start(
    ctx: typer.Context,
    tick_interval: Annotated[float, typer.Option(min=0.05, help="Seconds between scheduler ticks.")] = 5.0,
) -> None:
    """Run due jobs until SIGTERM or Ctrl-C (a run in progress finishes first)."""
    import signal
    import threading

    from scheduling.scheduler import Scheduler, new_scheduler_id

    stop = threading.Event()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda _signum, _frame: stop.set())
    scheduler = Scheduler(_settings(ctx), scheduler_id=new_scheduler_id())
    console.print(f"scheduler {scheduler.scheduler_id} started", soft_wrap=True)
    scheduler.run_until(stop, tick_interval_s=tick_interval)
    console.print(f"scheduler {scheduler.scheduler_id} stopped", soft_wrap=True)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only this job's alerts.")] = None,
    status: Annotated[str | None, typer.Option(help="open | acknowledged | resolved | dismissed")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most alerts to list.")] = 50,
) -> None:
    """Alerts, newest first."""
    from scheduling.alerts import list_alerts

    table = Table("id", "job", "entity", "status", "score", "level", "seen", "last run", "by", title="alerts")
    for alert in list_alerts(_settings(ctx), job_name=job, status=status, limit=limit):
        table.add_row(
            str(alert.id),
            alert.job_name,
            alert.entity_id,
            alert.status,
            f"{alert.score:.3f}",
            alert.level,
            str(alert.times_seen),
            alert.last_run_id[:12],
            alert.acted_by or "-",
        )
    console.print(table)


@alerts_app.command("deliver")
def alerts_deliver(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Most deliveries to send in this drain.")] = 500,
) -> None:
    """Send the due alert deliveries (webhooks, Redis streams) once; the scheduler does this every tick."""
    from scheduling.delivery import deliver_due

    report = deliver_due(_settings(ctx), limit=limit)
    console.print(
        f"attempted {report.attempted}: delivered {report.delivered}, retrying {report.retrying}, "
        f"failed {report.failed}",
        soft_wrap=True,
    )


@alerts_app.command("ack")
def alerts_ack(ctx: typer.Context, alert_id: AlertId, actor: Actor) -> None:
    """Acknowledge an open alert."""
    _act(ctx, alert_id, action="ack", actor=actor)


@alerts_app.command("resolve")
def alerts_resolve(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor,
    note: Annotated[str, typer.Option(help="How it was resolved.")] = "",
) -> None:
    """Resolve an open or acknowledged alert."""
    _act(ctx, alert_id, action="resolve", actor=actor, reason=note)


@alerts_app.command("dismiss")
def alerts_dismiss(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor,
    reason: Annotated[str, typer.Option(help="Why the alert is dismissed (required).")],
) -> None:
    """Dismiss an open or acknowledged alert, with a reason."""
    _act(ctx, alert_id, action="dismiss", actor=actor, reason=reason)


def _act(ctx: typer.Context, alert_id: int, *, action: AlertAction, actor: str, reason: str = "") -> None:
    from scheduling.alerts import act_on_alert

    _print_alert(act_on_alert(_settings(ctx), alert_id, action=action, actor=actor, reason=reason))


def _print_alert(alert: Alert) -> None:
    console.print(
        f"alert {alert.id} ({alert.job_name}, {alert.entity_id}): {alert.status} by {alert.acted_by}",
        soft_wrap=True,
    )


def _print_job(job: JobView) -> None:
    state = "paused" if job.paused else "active"
    console.print(f"job {job.spec.name} ({state})", soft_wrap=True)
    console.print_json(job.spec.model_dump_json())


def _print_runs(runs: list[RunView]) -> None:
    table = Table("run", "job", "scheduled for", "model", "status", "done/total", "written", "rows/s", title="runs")
    for run in runs:
        table.add_row(
            run.id[:12],
            run.job_name or "-",
            str(run.scheduled_for or "-"),
            f"{run.model_name} v{run.model_version}",
            run.status,
            f"{run.rows_done:,}/{run.rows_total:,}",
            f"{run.rows_written:,}",
            f"{run.rows_per_s:,.0f}",
        )
    console.print(table)


@inspections_app.command("draw")
def inspections_draw(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="Seed of the draw; the same seed on the same run gives the same list.")],
    job: Annotated[str | None, typer.Option(help="Draw from this job's latest finished run.")] = None,
    run: Annotated[str | None, typer.Option(help="Draw from this finished run.")] = None,
    total: Annotated[
        int | None, typer.Option(min=1, help="List size, split across grades; default: each grade at its ratio.")
    ] = None,
    actor: Annotated[str, typer.Option(help="Who draws (recorded and audited).")] = "cli",
) -> None:
    """Draw a random inspection list from a finished run, weighted by grade; recorded and audited."""
    from scheduling.inspections import draw_inspections

    draw = draw_inspections(_settings(ctx), seed=seed, job_name=job, run_id=run, total=total, actor=actor)
    _print_draw_summary(draw)


@inspections_app.command("list")
def inspections_list(
    ctx: typer.Context,
    run: Annotated[str | None, typer.Option(help="Only draws from this run.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most draws to list.")] = 20,
) -> None:
    """Recorded draws, newest first."""
    from scheduling.inspections import list_draws

    table = Table("draw", "run", "job", "seed", "drawn", "per grade", "by", "at", title="inspection draws")
    for draw in list_draws(_settings(ctx), run_id=run, limit=limit):
        per_grade = " ".join(f"{grade}:{count}" for grade, count in sorted(draw.counts.items()))
        table.add_row(
            draw.id,
            draw.run_id[:12],
            draw.job_name or "-",
            str(draw.seed),
            str(draw.drawn),
            per_grade,
            draw.actor,
            str(draw.created_at),
        )
    console.print(table)


@inspections_app.command("show")
def inspections_show(ctx: typer.Context, draw_id: Annotated[str, typer.Argument(help="Draw id.")]) -> None:
    """One draw and its inspection list."""
    from scheduling.inspections import get_draw

    draw = get_draw(_settings(ctx), draw_id)
    _print_draw_summary(draw)
    table = Table("#", "entity", "grade", "credit score", title="inspection list")
    for entity in draw.entities:
        score = "-" if entity.credit_score is None else f"{entity.credit_score:.1f}"
        table.add_row(str(entity.position + 1), entity.entity_id, entity.grade, score)
    console.print(table)


def _print_draw_summary(draw: InspectionDraw) -> None:
    per_grade = ", ".join(
        f"{grade} {draw.counts.get(grade, 0)}/{size} ({draw.ratios.get(grade, 0.0):.0%})"
        for grade, size in sorted(draw.population.items())
    )
    console.print(
        f"draw {draw.id}: {draw.drawn} entities from run {draw.run_id} (seed {draw.seed}): {per_grade}",
        soft_wrap=True,
    )
