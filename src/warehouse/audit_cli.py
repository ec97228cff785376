"""The ``warehouse audit`` commands: walk the SM3 chain, list entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.settings import Settings

console = Console()
audit_app = typer.Typer(help="The SM3-chained audit log.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Walk the audit chain; name the first broken entry and exit 1 if there is one."""
    from warehouse.audit import verify_chain

    report = verify_chain(_settings(ctx))
    if report.intact:
        console.print(f"audit chain intact: {report.entries} entries")
        return
    console.print(f"[red]audit chain broken at entry {report.first_broken_seq}[/red]: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="Only subjects starting with this, e.g. fire_risk/.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only entries at or after this moment (UTC), e.g. 2026-12-01T08:00:00.")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Only entries before this moment (UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most entries shown, newest first.")] = 50,
) -> None:
    """The latest audit entries."""
    from warehouse.audit import list_entries

    table = Table("seq", "at", "actor", "action", "subject", "detail", title="audit log")
    found = list_entries(_settings(ctx), subject=subject, actor=actor, since=since, until=until, limit=limit)
    for entry in found:
        table.add_row(str(entry.seq), str(entry.at), entry.actor, entry.action, entry.subject, str(entry.detail))
    console.print(table)
