"""The registry's commands of the ``warehouse`` CLI: review and release of model versions.

``warehouse models submit|approve|reject|promote|rollback|rollout|suspend|reinstate|delist|card|state``; the
composing CLI (``warehouse.cli``) adds them to its ``models`` sub-app. The acting person comes from
``--actor`` (default: the OS user): the CLI is the local operator's tool, while over HTTP the actor
is the principal whose API key made the request. Heavy packages are imported inside the commands.
"""

from __future__ import annotations

import getpass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.errors import InvalidRequest
from warehouse.settings import Settings

if TYPE_CHECKING:
    from registry.lifecycle import VersionState
    from registry.models import AliasMove

console = Console()

NameArgument = Annotated[str, typer.Argument(help="Registered model name.")]
VersionArgument = Annotated[str, typer.Argument(help="Model version number.")]
ActorOption = Annotated[str | None, typer.Option(help="Who acts (default: the OS user).")]
ReasonOption = Annotated[str, typer.Option(help="Why: kept in the lifecycle history and the audit log.")]
RequiredReason = Annotated[str, typer.Option(help="Why: kept in the lifecycle history and the audit log.")]


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _print_state(state: VersionState) -> None:
    console.print(f"{state.model_name} v{state.version}: [bold]{state.state}[/bold]", highlight=False)


def _print_move(move: AliasMove) -> None:
    console.print(
        f"{move.model_name} alias {move.alias}: {move.from_version or '-'} -> {move.to_version} (by {move.actor})",
        highlight=False,
    )


def submit(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    actor: ActorOption = None,
    reason: ReasonOption = "",
    intended_use: Annotated[str | None, typer.Option(help="Model card: what the model is for.")] = None,
    owner: Annotated[str | None, typer.Option(help="Model card: owner department.")] = None,
    limitations: Annotated[str | None, typer.Option(help="Model card: known limitations.")] = None,
    classification: Annotated[
        str | None, typer.Option(help="Model card: public | internal | sensitive | restricted.")
    ] = None,
) -> None:
    """Complete the model card and send a version to review."""
    from pydantic import ValidationError

    from registry.card import ModelCardUpdate
    from registry.lifecycle import submit as submit_version

    try:
        card = ModelCardUpdate.model_validate(
            {
                "intended_use": intended_use,
                "owner_department": owner,
                "limitations": limitations,
                "classification": classification,
            }
        )
    except ValidationError as exc:
        raise InvalidRequest(f"invalid model card field: {exc.errors()[0]['msg']}") from exc
    names = {"model_name": name, "version": version}
    _print_state(submit_version(_settings(ctx), **names, actor=_actor(actor), reason=reason, card=card))


def approve(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    actor: ActorOption = None,
    reason: ReasonOption = "",
) -> None:
    """Approve a version in review (the approver must not be the submitter)."""
    from registry.lifecycle import approve as approve_version

    _print_state(approve_version(_settings(ctx), model_name=name, version=version, actor=_actor(actor), reason=reason))


def reject(
    ctx: typer.Context, name: NameArgument, version: VersionArgument, reason: RequiredReason, actor: ActorOption = None
) -> None:
    """Send a version in review back to its submitter."""
    from registry.lifecycle import reject as reject_version

    _print_state(reject_version(_settings(ctx), model_name=name, version=version, actor=_actor(actor), reason=reason))


def suspend(
    ctx: typer.Context, name: NameArgument, version: VersionArgument, reason: RequiredReason, actor: ActorOption = None
) -> None:
    """Take a version out of serving and batch scoring."""
    from registry.lifecycle import suspend as suspend_version

    _print_state(suspend_version(_settings(ctx), model_name=name, version=version, actor=_actor(actor), reason=reason))


def reinstate(
    ctx: typer.Context, name: NameArgument, version: VersionArgument, reason: RequiredReason, actor: ActorOption = None
) -> None:
    """Bring a suspended version back to approved."""
    from registry.lifecycle import reinstate as reinstate_version

    state = reinstate_version(_settings(ctx), model_name=name, version=version, actor=_actor(actor), reason=reason)
    _print_state(state)


def delist(
    ctx: typer.Context, name: NameArgument, version: VersionArgument, reason: RequiredReason, actor: ActorOption = None
) -> None:
    """Retire a version for good (it can never be promoted again)."""
    from registry.lifecycle import delist as delist_version

    _print_state(delist_version(_settings(ctx), model_name=name, version=version, actor=_actor(actor), reason=reason))


def promote(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    alias: Annotated[str, typer.Option(help="Alias to point at the version.")] = "champion",
    actor: ActorOption = None,
    reason: ReasonOption = "",
) -> None:
    """Point an alias at an approved version (champion or challenger publish it)."""
    from registry.lifecycle import promote as promote_version

    settings = _settings(ctx)
    _print_move(
        promote_version(settings, model_name=name, version=version, alias=alias, actor=_actor(actor), reason=reason)
    )


def rollback(
    ctx: typer.Context,
    name: NameArgument,
    alias: Annotated[str, typer.Option(help="Alias to move back to its previous holder.")] = "champion",
    actor: ActorOption = None,
    reason: ReasonOption = "",
) -> None:
    """Point an alias back at the version that held it before its last move."""
    from registry.lifecycle import rollback as rollback_alias

    _print_move(rollback_alias(_settings(ctx), model_name=name, alias=alias, actor=_actor(actor), reason=reason))


def rollout(
    ctx: typer.Context,
    name: NameArgument,
    canary: Annotated[
        float | None, typer.Option(help="Send this share of entities (0 < share < 1) to the challenger.")
    ] = None,
    shadow: Annotated[bool, typer.Option("--shadow", help="Champion answers; the challenger is logged.")] = False,
    off: Annotated[bool, typer.Option("--off", help="Champion answers everything.")] = False,
    actor: ActorOption = None,
    reason: ReasonOption = "",
) -> None:
    """Set how the challenger takes part in serving: a canary share, shadow, or off."""
    from registry.rollout import RolloutMode, set_rollout

    chosen = [mode for mode, given in ((RolloutMode.CANARY, canary is not None), (RolloutMode.SHADOW, shadow),
                                       (RolloutMode.OFF, off)) if given]  # fmt: skip
    if len(chosen) != 1:
        raise InvalidRequest("give exactly one of --canary SHARE, --shadow or --off")
    done = set_rollout(
        _settings(ctx), model_name=name, mode=chosen[0], canary_share=canary, actor=_actor(actor), reason=reason
    )
    share = f" {done.canary_share:.1%} of entities" if done.canary_share is not None else ""
    console.print(f"{done.model_name} rollout: [bold]{done.mode}[/bold]{share} (by {done.actor})", highlight=False)


class CardOutput(StrEnum):
    """How ``models card`` prints the card."""

    MARKDOWN = "markdown"
    HTML = "html"


def card(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    output_format: Annotated[CardOutput, typer.Option("--format", help="markdown or html.")] = CardOutput.MARKDOWN,
) -> None:
    """Print a version's model card as Markdown or HTML."""
    from registry.card import render_card
    from registry.lifecycle import get_card

    text = render_card(get_card(_settings(ctx), model_name=name, version=version), output_format.value)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def state(ctx: typer.Context, name: NameArgument, version: VersionArgument) -> None:
    """Print a version's lifecycle state, digests and signer, and its lifecycle steps."""
    from registry.lifecycle import get_state

    settings = _settings(ctx)
    current = get_state(settings, model_name=name, version=version)
    _print_state(current)
    console.print(f"  onnx SM3 {current.onnx_sm3}\n  signed by key {current.signer_key_id}", highlight=False)
    console.print(lifecycle_table(settings, name, version))


def export(
    ctx: typer.Context,
    name: NameArgument,
    alias: Annotated[str | None, typer.Option(help="Export the version this alias points at, e.g. champion.")] = None,
    version: Annotated[str | None, typer.Option(help="Export this version number.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Bundle file to write (default: NAME-ALIAS.tar or NAME-vV.tar).")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Write an approved version as one bundle signed by this node (for another node to import)."""
    from registry.exchange import export_version

    if (alias is None) == (version is None):
        raise InvalidRequest("give exactly one of --alias or --version")
    target = alias or version or ""
    path = out or Path(f"{name}-{alias}.tar" if alias else f"{name}-v{version}.tar")
    report = export_version(_settings(ctx), model_name=name, alias_or_version=target, out=path, actor=_actor(actor))
    console.print(
        f"{report.model_name} v{report.version} -> {report.bundle} ({len(report.members)} members, "
        f"signed by node {report.node_id}, bundle SM3 {report.bundle_sm3})",
        highlight=False,
        soft_wrap=True,
    )


def import_model(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(help="Bundle file exported by a trusted node.")],
    actor: ActorOption = None,
) -> None:
    """Verify a bundle against its node's trusted key and register its version here, approved by its origin."""
    from registry.exchange import import_bundle

    report = import_bundle(_settings(ctx), bundle, actor=_actor(actor))
    origin = report.provenance
    again = " (imported before; nothing changed)" if report.already_imported else ""
    console.print(
        f"{report.model_name} v{report.version}: [bold]{report.state}[/bold], from node {origin.origin_node_id} "
        f"({origin.origin_model_name} v{origin.origin_version}){again}",
        highlight=False,
        soft_wrap=True,
    )


def adopt(
    ctx: typer.Context,
    name: NameArgument,
    version: VersionArgument,
    actor: ActorOption = None,
    reason: ReasonOption = "",
) -> None:
    """Sign and record a version registered before governance existed (it then goes through review)."""
    from registry.lifecycle import get_state
    from registry.models import adopt_version

    settings = _settings(ctx)
    ref = adopt_version(settings, model_name=name, version=version, actor=_actor(actor), reason=reason)
    _print_state(get_state(settings, model_name=ref.model_name, version=ref.version))


def lifecycle_table(settings: Settings, name: str, version: str | None = None) -> Table:
    """The lifecycle steps of a model (or one version) as a table."""
    from registry.lifecycle import lifecycle_history

    table = Table("at", "version", "from", "to", "actor", "reason", title=f"lifecycle of {name}")
    for step in lifecycle_history(settings, model_name=name, version=version):
        table.add_row(str(step.at), step.version, step.from_state or "-", step.to_state, step.actor, step.reason)
    return table


def register_model_commands(models_app: typer.Typer) -> None:
    """Add the governance commands to the ``models`` sub-app."""
    for command in (submit, approve, reject, promote, rollback, rollout, suspend, reinstate, delist, card, state):
        models_app.command(command.__name__)(command)
    models_app.command("export")(export)
    models_app.command("import")(import_model)
    models_app.command("adopt")(adopt)
