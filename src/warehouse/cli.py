"""The ``warehouse`` command line: one typer app with a sub-app per package.

Heavy packages are imported inside each command so that ``warehouse --help`` starts fast. Domain
errors print one line and exit 1; usage errors exit 2 (typer's own).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from registry.cli import register_model_commands
from scheduling.commands import (
    alerts_app,
    inspections_app,
    jobs_app,
    parse_executor,
    parse_feature_source,
    scheduler_app,
)
from warehouse.audit_cli import audit_app
from warehouse.console import BarAdvance, new_progress
from warehouse.errors import WarehouseError
from warehouse.identity_cli import print_issued_key, register_identity_commands
from warehouse.library_env import apply_library_defaults
from warehouse.logs import configure_logging
from warehouse.nodes_cli import nodes_app
from warehouse.settings import EngineKind, Settings, get_settings

if TYPE_CHECKING:
    from serving.comparison import ComparisonReport
    from warehouse.pipeline import PublishedModel

console = Console()
error_console = Console(stderr=True)
app = typer.Typer(
    help="Algorithm warehouse: features, training, registry, serving, batch scoring.", no_args_is_help=True
)
features_app = typer.Typer(help="Synthetic populations and the Feast feature store.", no_args_is_help=True)
models_app = typer.Typer(help="Registered models and their aliases.", no_args_is_help=True)
batch_app = typer.Typer(help="Batch scoring of whole populations.", no_args_is_help=True)
experiments_app = typer.Typer(help="Experiments: benchmarks on public datasets.", no_args_is_help=True)
algorithms_app = typer.Typer(help="The installed algorithms (entry points warehouse.algorithms).", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(batch_app, name="batch")
app.add_typer(experiments_app, name="experiments")
app.add_typer(algorithms_app, name="algorithms")
app.add_typer(audit_app, name="audit")
register_model_commands(models_app)
app.add_typer(jobs_app, name="jobs")
app.add_typer(scheduler_app, name="scheduler")
app.add_typer(alerts_app, name="alerts")
app.add_typer(nodes_app, name="nodes")
register_identity_commands(app)
app.add_typer(inspections_app, name="inspections")

SeedOption = Annotated[int, typer.Option(help="Random seed for data generation, split and model.")]
BuildingsOption = Annotated[int, typer.Option(min=100, help="Buildings in the synthetic population.")]
EngineOption = Annotated[
    EngineKind | None, typer.Option(help="Serving engine: local (uvicorn) or ray (Ray Serve); default: settings.")
]


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data dir of this node (default: WAREHOUSE_DATA_DIR or ./.warehouse).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at the settings' log level.")] = False,
) -> None:
    """Algorithm warehouse command line."""
    from rich.logging import RichHandler

    settings = get_settings() if data_dir is None else Settings(data_dir=data_dir)
    # Logs go through the same console as the progress bars, so they print above them, not through them.
    level = settings.log_level if verbose else "WARNING"
    configure_logging(level, RichHandler(console=console, show_path=False))
    ctx.obj = settings


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data dir, bring the metadata DB schema up to date, make the node's SM2 key pair.

    On a node without principals it also creates the ``admin`` principal and prints its API key, once.
    """
    from warehouse.identity import bootstrap_admin
    from warehouse.pipeline import initialize
    from warehouse.security import ensure_node_key

    settings = _settings(ctx)
    initialize(settings)
    console.print(f"warehouse ready in [bold]{settings.data_dir}[/bold]")
    console.print(f"node SM2 key id {ensure_node_key(settings).key_id}", highlight=False)
    if (issued := bootstrap_admin(settings)) is not None:
        print_issued_key(issued)


@features_app.command("prepare")
def features_prepare(
    ctx: typer.Context,
    buildings: BuildingsOption = 20_000,
    seed: SeedOption = 42,
    population: Annotated[
        str, typer.Option(help="Population: buildings (fire_risk), market_entities, enterprises.")
    ] = "buildings",
    entities: Annotated[
        int | None, typer.Option(min=100, help="Entities to generate (default: --buildings, or 5,000 enterprises).")
    ] = None,
) -> None:
    """Generate a population, apply the Feast repo and materialise its latest values."""
    from warehouse.pipeline import DEFAULT_POPULATION_SIZES, initialize, prepare_features

    settings = _settings(ctx)
    initialize(settings)
    n_entities = entities or (
        buildings if population == "buildings" else DEFAULT_POPULATION_SIZES.get(population, 20_000)
    )
    with new_progress(console) as progress:
        task = progress.add_task("Features: generate, apply, materialise", total=3)
        manifest, report = prepare_features(
            settings, n_entities=n_entities, seed=seed, population=population, on_progress=BarAdvance(progress, task)
        )
    console.print(
        f"{manifest.n_entities:,} {population} x {manifest.months} months; "
        f"materialised {sum(report.rows_per_view.values()):,} rows in {report.seconds:.1f} s"
    )


@app.command()
def train(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="Algorithm name, e.g. fire_risk.")],
    seed: SeedOption = 42,
    alias: Annotated[str, typer.Option(help="Alias the new version receives.")] = "champion",
    search: Annotated[
        int | None, typer.Option(min=1, help="Hyper-parameter search: N trials, only the best is registered.")
    ] = None,
    parallel: Annotated[
        Literal["local", "ray"], typer.Option(help="Where search trials run: one by one here, or as Ray tasks.")
    ] = "local",
) -> None:
    """Train an algorithm on point-in-time features, register the model and set an alias."""
    from warehouse.pipeline import train_and_publish

    settings = _settings(ctx)
    with new_progress(console) as progress:
        task = progress.add_task(f"Training {algorithm}", total=3)
        published = train_and_publish(
            settings,
            algorithm,
            seed=seed,
            actor="cli",
            alias=alias,
            on_progress=BarAdvance(progress, task),
            search_trials=search,
            search_executor=parallel,
        )
    _print_published(published)


@models_app.command("history")
def models_history(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Every alias move of a model (when, who, from which version to which, why), its lifecycle steps and rollouts."""
    from registry.models import alias_history

    table = Table("at", "alias", "from", "to", "actor", "reason", title=f"alias history of {name}")
    for move in alias_history(_settings(ctx), name):
        table.add_row(str(move.at), move.alias, move.from_version or "-", move.to_version, move.actor, move.reason)
    console.print(table)
    from registry.cli import lifecycle_table
    from registry.rollout import rollout_history

    console.print(lifecycle_table(_settings(ctx), name))
    rollouts = Table("at", "from", "mode", "share", "challenger", "actor", "reason", title=f"rollouts of {name}")
    for change in rollout_history(_settings(ctx), name):
        share = "-" if change.canary_share is None else f"{change.canary_share:.1%}"
        rollouts.add_row(str(change.at), change.from_mode or "-", change.mode, share,
                         change.challenger_version or "-", change.actor, change.reason)  # fmt: skip
    console.print(rollouts)


@models_app.command("compare")
def models_compare(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    since: Annotated[
        dt.datetime | None, typer.Option(help="Only answers logged at or after this time (UTC unless given).")
    ] = None,
) -> None:
    """Agreement of champion and challenger from the canary and shadow comparison log."""
    from serving.comparison import compare_models

    report = compare_models(_settings(ctx), name, since=since)
    console.print(comparison_table(report))
    if report.level_confusion:
        confusion = Table("champion level", "challenger level", "pairs", title="level confusion")
        for cell in report.level_confusion:
            confusion.add_row(cell.champion_level, cell.challenger_level, str(cell.count))
        console.print(confusion)
    arms = Table("arm", "versions", "answers", "mean score", "p10", "p50", "p90", "levels", title="canary arms")
    for arm in report.canary:
        quantiles = [_figure(arm.score_quantiles.get(key)) for key in ("p10", "p50", "p90")]
        levels = ", ".join(f"{level}: {count}" for level, count in arm.levels.items()) or "-"
        arms.add_row(
            arm.arm, ", ".join(arm.versions) or "-", str(arm.answers), _figure(arm.mean_score), *quantiles, levels
        )
    console.print(arms)


def comparison_table(report: ComparisonReport) -> Table:
    """The shadow figures of a comparison report as a two-column table."""
    table = Table("figure", "value", title=f"shadow comparison of {report.model_name}")
    table.add_row("compared pairs", str(report.pairs))
    table.add_row("versions", ", ".join(report.version_pairs) or "-")
    agreement = "-" if report.level_agreement is None else f"{report.level_agreement:.1%}"
    table.add_row("level agreement", agreement)
    for label, value in (
        ("mean |score diff|", report.mean_abs_score_diff),
        ("max |score diff|", report.max_abs_score_diff),
        ("Pearson r", report.pearson),
        ("Spearman rho", report.spearman),
    ):
        table.add_row(label, _figure(value))
    return table


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


BatchExecutorOption = Annotated[str, typer.Option(help="local (ONNX Runtime in-process) | ray (Ray Data actors).")]
RayAddressOption = Annotated[
    str | None, typer.Option(help="Ray cluster address for --executor ray (default: a Ray in-process).")
]


@batch_app.command("score")
def batch_score(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="Algorithm whose population to score.")],
    alias: Annotated[str, typer.Option(help="Alias (or version) of the model to use.")] = "champion",
    features: Annotated[
        str,
        typer.Option(
            help="latest (each entity's latest values straight from the offline parquet, no Feast) | "
            "point-in-time (Feast's point-in-time join). Same values."
        ),
    ] = "latest",
    executor: BatchExecutorOption = "local",
    address: RayAddressOption = None,
) -> None:
    """Score every entity of the algorithm's population and write the results to parquet."""
    from algorithms.catalogue import get_algorithm
    from scheduling.batch import score_population

    settings = _settings(ctx)
    get_algorithm(algorithm)  # an unknown name fails as algorithm_not_found, listing the installed ones
    with new_progress(console) as progress:
        task = progress.add_task(f"Batch scoring {algorithm}", total=None)
        report = score_population(
            settings,
            algorithm,
            alias=alias,
            features=parse_feature_source(features),
            executor=parse_executor(executor),
            address=address,
            on_progress=BarAdvance(progress, task),
        )
    console.print(
        f"scored {report.rows} rows with {report.model_name} v{report.model_version} "
        f"in {report.seconds:.1f} s ({report.rows_per_s:,.0f} rows/s) -> {report.output_dir}"
    )


@batch_app.command("resume")
def batch_resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Id of an interrupted batch run.")],
    executor: BatchExecutorOption = "local",
    address: RayAddressOption = None,
) -> None:
    """Finish an interrupted run with the model version it pinned, skipping its committed chunks."""
    from scheduling.batch import resume_run

    with new_progress(console) as progress:
        task = progress.add_task(f"Resuming run {run_id[:12]}", total=None)
        report = resume_run(
            _settings(ctx),
            run_id,
            executor=parse_executor(executor),
            address=address,
            on_progress=BarAdvance(progress, task),
        )
    console.print(f"run {report.run_id}: {report.rows} rows with {report.model_name} v{report.model_version}")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default: settings; 0 = any free).")] = None,
    engine: EngineOption = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join with --engine ray (default: start a local Ray).")
    ] = None,
) -> None:
    """Serve the HTTP API with every published model until interrupted (SIGTERM or Ctrl-C)."""
    from serving.engines.base import load_engine

    settings = _settings(ctx)
    overrides = {
        key: value
        for key, value in (("host", host), ("port", port), ("engine", engine), ("ray_address", address))
        if value is not None
    }
    settings = settings.model_copy(update=overrides)

    def announce(url: str) -> None:
        console.print(
            f"serving {settings.data_dir} with the {settings.engine} engine at {url} (docs at {url}/docs)",
            soft_wrap=True,
        )

    load_engine(settings).serve(on_bound=announce)


@algorithms_app.command("list")
def algorithms_list() -> None:
    """Each installed algorithm with its entity, feature service, task and default grading."""
    from algorithms.catalogue import list_algorithms

    table = Table("algorithm", "entity", "feature service", "task", "grading", title="algorithms")
    for algorithm in list_algorithms():
        grading = algorithm.default_grading
        levels = " < ".join(grading.levels)
        warning = f"; warning: {', '.join(grading.warning_levels)}" if grading.warning_levels else ""
        table.add_row(algorithm.name, algorithm.entity, algorithm.feature_service, algorithm.task, levels + warning)
    console.print(table)


@experiments_app.command("benchmark")
def experiments_benchmark(
    ctx: typer.Context,
    dataset: Annotated[
        list[str] | None, typer.Option(help="german_credit, forest_fires or sba_loans (repeatable; default all).")
    ] = None,
    seed: SeedOption = 42,
) -> None:
    """Train the algorithms' model family on public datasets and print the metrics next to published ones."""
    from experiments.benchmark import run_benchmarks

    settings = _settings(ctx)
    settings.ensure_dirs()
    with console.status("Running benchmarks"):
        results = run_benchmarks(settings, dataset, seed=seed)
    table = Table(
        "dataset", "rows", "features", "protocol", "metric", "value", "published", "reference", title="benchmarks"
    )
    for result in results:
        table.add_row(
            result.dataset,
            f"{result.rows:,}",
            str(result.features),
            result.protocol,
            result.metric,
            f"{result.value:.4f}",
            result.published,
            result.reference,
        )
    console.print(table)


@experiments_app.command("rolling")
def experiments_rolling(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="Algorithm name, e.g. fire_risk.")],
    folds: Annotated[int, typer.Option(min=1, help="Validated months: the last N, each after all earlier ones.")] = 3,
    seed: SeedOption = 42,
) -> None:
    """Rolling time-based validation: train on months up to t, validate on t + 1, for the last N months."""
    from warehouse.pipeline import validate_rolling

    with console.status(f"Rolling validation of {algorithm}"):
        report = validate_rolling(_settings(ctx), algorithm, folds=folds, seed=seed)
    table = Table(
        "fold", "trained on", "validated", "roc_auc", "pr_auc", "brier", title=f"{algorithm}: rolling validation"
    )
    for fold in report.folds:
        metrics = fold.metrics
        table.add_row(
            str(fold.fold),
            f"{fold.first_train_month} .. {fold.last_train_month}",
            fold.validation_month,
            *(f"{metrics[name]:.4f}" for name in ("roc_auc", "pr_auc", "brier")),
        )
    console.print(table)
    console.print(
        "mean ± std: "
        + ", ".join(f"{name}={report.mean[name]:.4f}±{report.std[name]:.4f}" for name in ("roc_auc", "pr_auc", "brier"))
        + f" (MLflow run {report.run_id})",
        highlight=False,
    )


@app.command()
def demo(
    ctx: typer.Context, buildings: BuildingsOption = 20_000, seed: SeedOption = 42, engine: EngineOption = None
) -> None:
    """Run the whole fire-risk flow end to end on the embedded defaults."""
    from warehouse.demo import run_demo

    settings = _settings(ctx)
    if engine is not None:
        settings = settings.model_copy(update={"engine": engine})
    run_demo(settings, n_buildings=buildings, seed=seed, console=console)


def _print_published(published: PublishedModel) -> None:
    metrics = ", ".join(f"{name}={value:.4f}" for name, value in sorted(published.metrics.items()))
    console.print(
        f"{published.model_name} v{published.version} -> alias {published.alias} (run {published.run_id})\n"
        f"  hold-out: {metrics}\n  ONNX vs LightGBM max |diff| = {published.parity_max_abs_diff:.2e}"
    )


def main() -> None:
    """Console-script entry point: run the app, turning domain errors into one line and exit 1."""
    apply_library_defaults()
    try:
        app()
    except WarehouseError as exc:
        error_console.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(1)
