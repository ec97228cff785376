"""The ``warehouse principals`` and ``warehouse keys`` commands: who may call the API, with which key.

A key's secret is printed once, when it is created (or bootstrapped), and never again: ``keys list``
shows key ids, owners, expiry and last use only. The acting operator comes from ``--actor``
(default: the OS user) and goes to the audit chain with every change.
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.errors import InvalidRequest
from warehouse.permissions import Role
from warehouse.security import CLASSIFICATION_LEVELS
from warehouse.settings import Settings

if TYPE_CHECKING:
    from warehouse.identity import IssuedKey, PrincipalView

console = Console()
principals_app = typer.Typer(help="Departments and applications that call the API.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)

PrincipalArgument = Annotated[str, typer.Argument(help="Principal name, e.g. fire-brigade or city-dashboard.")]
ActorOption = Annotated[str | None, typer.Option(help="Who acts (default: the OS user).")]


def register_identity_commands(app: typer.Typer) -> None:
    """Add ``principals`` and ``keys`` to the composing CLI."""
    app.add_typer(principals_app, name="principals")
    app.add_typer(keys_app, name="keys")


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def parse_roles(text: str) -> list[Role]:
    """Comma-separated role names as roles (``invalid_request`` naming the valid ones otherwise)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    valid = {role.value for role in Role}
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise InvalidRequest(f"roles must be a comma-separated list of {', '.join(sorted(valid))}; got {text!r}")
    return [Role(name) for name in names]


def print_issued_key(key: IssuedKey) -> None:
    """Print a new key once, with the warning that it cannot be shown again."""
    expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no expiry"
    console.print(f"API key {key.key_id} for {key.principal} ({expiry}); shown only now, keep it safe:")
    console.print(key.token, highlight=False, soft_wrap=True)


@principals_app.command("add")
def principals_add(
    ctx: typer.Context,
    name: PrincipalArgument,
    kind: Annotated[str, typer.Option(help="department or application.")] = "department",
    roles: Annotated[str, typer.Option(help="Comma-separated: scientist, reviewer, admin, app, auditor.")] = "app",
    clearance: Annotated[str, typer.Option(help=f"One of {', '.join(CLASSIFICATION_LEVELS)}.")] = "internal",
    actor: ActorOption = None,
) -> None:
    """Create a principal with roles and a clearance level."""
    from warehouse.identity import add_principal, parse_kind
    from warehouse.security import parse_classification

    view = add_principal(
        _settings(ctx),
        name=name,
        kind=parse_kind(kind),
        roles=parse_roles(roles),
        clearance=parse_classification(clearance),
        actor=_actor(actor),
    )
    _print_principal(view)


@principals_app.command("list")
def principals_list(ctx: typer.Context) -> None:
    """Every principal with its roles, clearance and granted models."""
    from warehouse.identity import list_principals

    table = Table(title="principals")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "roles", "clearance", "granted models", "disabled", "created"):
        table.add_column(column)
    for view in list_principals(_settings(ctx)):
        table.add_row(
            view.name,
            view.kind,
            ",".join(view.roles),
            view.clearance,
            ",".join(view.granted_models) or "-",
            "yes" if view.disabled else "no",
            f"{view.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@principals_app.command("grant")
def principals_grant(
    ctx: typer.Context,
    principal: PrincipalArgument,
    model: Annotated[str, typer.Argument(help="Registered model name the principal may reach.")],
    actor: ActorOption = None,
) -> None:
    """Let a principal (an application with role app) reach a registered model."""
    from warehouse.identity import grant_model

    _print_principal(grant_model(_settings(ctx), principal=principal, model_name=model, actor=_actor(actor)))


@principals_app.command("revoke-grant")
def principals_revoke_grant(
    ctx: typer.Context,
    principal: PrincipalArgument,
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    actor: ActorOption = None,
) -> None:
    """Withdraw a principal's grant of a model."""
    from warehouse.identity import revoke_grant

    _print_principal(revoke_grant(_settings(ctx), principal=principal, model_name=model, actor=_actor(actor)))


@principals_app.command("disable")
def principals_disable(ctx: typer.Context, name: PrincipalArgument, actor: ActorOption = None) -> None:
    """Disable a principal: every one of its keys stops working at once."""
    from warehouse.identity import set_disabled

    _print_principal(set_disabled(_settings(ctx), name, disabled=True, actor=_actor(actor)))


@principals_app.command("enable")
def principals_enable(ctx: typer.Context, name: PrincipalArgument, actor: ActorOption = None) -> None:
    """Enable a disabled principal again."""
    from warehouse.identity import set_disabled

    _print_principal(set_disabled(_settings(ctx), name, disabled=False, actor=_actor(actor)))


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    principal: PrincipalArgument,
    expires_days: Annotated[int | None, typer.Option(min=1, help="Days until the key expires (default: never).")] = (
        None
    ),
    actor: ActorOption = None,
) -> None:
    """Create an API key for a principal and print it, once."""
    from warehouse.identity import create_key

    expires_in = None if expires_days is None else dt.timedelta(days=expires_days)
    print_issued_key(create_key(_settings(ctx), principal=principal, actor=_actor(actor), expires_in=expires_in))


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    principal: Annotated[str | None, typer.Option(help="Only this principal's keys.")] = None,
) -> None:
    """Key ids, owners, expiry, revocation and last use (never a secret)."""
    from warehouse.identity import list_keys

    table = Table(title="API keys")
    table.add_column("key id", no_wrap=True)  # copied into 'keys revoke': never broken across lines
    for column in ("principal", "created", "expires", "revoked", "last used"):
        table.add_column(column)
    for key in list_keys(_settings(ctx), principal=principal):
        times = (key.created_at, key.expires_at, key.revoked_at, key.last_used_at)
        table.add_row(key.key_id, key.principal, *(_when(moment) for moment in times))
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id (the part after wh_ in the key).")],
    actor: ActorOption = None,
) -> None:
    """Revoke a key for good."""
    from warehouse.identity import revoke_key

    key = revoke_key(_settings(ctx), key_id, actor=_actor(actor))
    console.print(f"API key {key.key_id} of {key.principal} revoked at {_when(key.revoked_at)}", highlight=False)


@keys_app.command("bootstrap")
def keys_bootstrap(ctx: typer.Context) -> None:
    """Create the first admin principal and its key when no principal exists yet (as ``init`` does)."""
    from warehouse.identity import bootstrap_admin

    issued = bootstrap_admin(_settings(ctx))
    if issued is None:
        console.print("principals exist already; create keys with 'warehouse keys create'")
        return
    print_issued_key(issued)


def _print_principal(view: PrincipalView) -> None:
    grants = ", ".join(view.granted_models) or "none"
    state = " (disabled)" if view.disabled else ""
    console.print(
        f"{view.name}{state}: {view.kind}, roles {','.join(view.roles)}, clearance {view.clearance}, "
        f"granted models: {grants}",
        highlight=False,
        soft_wrap=True,
    )


def _when(moment: dt.datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"
