"""The ``warehouse`` command line: one typer app with a sub-app per package.

Heavy packages are imported inside each command so that ``warehouse --help`` starts fast. Domain
errors print one line and exit 1; usage errors exit 2 (typer's own).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.console import BarAdvance, new_progress
from warehouse.errors import WarehouseError
from warehouse.library_env import apply_library_defaults
from warehouse.logs import configure_logging
from warehouse.settings import Settings, get_settings

if TYPE_CHECKING:
    from warehouse.pipeline import PublishedModel

console = Console()
error_console = Console(stderr=True)
app = typer.Typer(
    help="Algorithm warehouse: features, training, registry, serving, batch scoring.", no_args_is_help=True
)
features_app = typer.Typer(help="Synthetic populations and the Feast feature store.", no_args_is_help=True)
models_app = typer.Typer(help="Registered models and their aliases.", no_args_is_help=True)
batch_app = typer.Typer(help="Batch scoring of whole populations.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(batch_app, name="batch")

SeedOption = Annotated[int, typer.Option(help="Random seed for data generation, split and model.")]
BuildingsOption = Annotated[int, typer.Option(min=100, help="Buildings in the synthetic population.")]


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
    """Create the data dir and bring the metadata DB schema up to date."""
    from warehouse.pipeline import initialize

    settings = _settings(ctx)
    initialize(settings)
    console.print(f"warehouse ready in [bold]{settings.data_dir}[/bold]")


@features_app.command("prepare")
def features_prepare(ctx: typer.Context, buildings: BuildingsOption = 20_000, seed: SeedOption = 42) -> None:
    """Generate the building population, apply the Feast repo and materialise the latest values."""
    from warehouse.pipeline import initialize, prepare_features

    settings = _settings(ctx)
    initialize(settings)
    with new_progress(console) as progress:
        task = progress.add_task("Features: generate, apply, materialise", total=3)
        manifest, report = prepare_features(
            settings, n_buildings=buildings, seed=seed, on_progress=BarAdvance(progress, task)
        )
    console.print(
        f"{manifest.n_entities:,} buildings x {manifest.months} months; "
        f"materialised {sum(report.rows_per_view.values()):,} rows in {report.seconds:.1f} s"
    )


@app.command()
def train(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="Algorithm name, e.g. fire_risk.")],
    seed: SeedOption = 42,
    alias: Annotated[str, typer.Option(help="Alias the new version receives.")] = "champion",
) -> None:
    """Train an algorithm on point-in-time features, register the model and set an alias."""
    from warehouse.pipeline import train_and_publish

    settings = _settings(ctx)
    with new_progress(console) as progress:
        task = progress.add_task(f"Training {algorithm}", total=3)
        published = train_and_publish(
            settings, algorithm, seed=seed, actor="cli", alias=alias, on_progress=BarAdvance(progress, task)
        )
    _print_published(published)


@models_app.command("history")
def models_history(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Every alias move of a model: when, who, from which version to which, why."""
    from registry.models import alias_history

    table = Table("at", "alias", "from", "to", "actor", "reason", title=f"alias history of {name}")
    for move in alias_history(_settings(ctx), name):
        table.add_row(str(move.at), move.alias, move.from_version or "-", move.to_version, move.actor, move.reason)
    console.print(table)


@batch_app.command("score")
def batch_score(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="Algorithm whose population to score.")],
    alias: Annotated[str, typer.Option(help="Alias (or version) of the model to use.")] = "champion",
) -> None:
    """Score every entity of the algorithm's population and write the results to parquet."""
    from scheduling.batch import score_population

    settings = _settings(ctx)
    with new_progress(console) as progress:
        task = progress.add_task(f"Batch scoring {algorithm}", total=None)
        report = score_population(settings, algorithm, alias=alias, on_progress=BarAdvance(progress, task))
    console.print(
        f"scored {report.rows} rows with {report.model_name} v{report.model_version} "
        f"in {report.seconds:.1f} s ({report.rows_per_s:,.0f} rows/s) -> {report.output_dir}"
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default: settings; 0 = any free).")] = None,
) -> None:
    """Serve the HTTP API with the local engine until interrupted."""
    from serving.engines.local import serve as serve_local

    settings = _settings(ctx)
    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings = settings.model_copy(update=overrides)

    def announce(url: str) -> None:
        console.print(f"serving {settings.data_dir} at {url} (docs at {url}/docs)", soft_wrap=True)

    serve_local(settings, on_bound=announce)


@app.command()
def demo(ctx: typer.Context, buildings: BuildingsOption = 20_000, seed: SeedOption = 42) -> None:
    """Run the whole fire-risk flow end to end on the embedded defaults."""
    from warehouse.demo import run_demo

    run_demo(_settings(ctx), n_buildings=buildings, seed=seed, console=console)


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
