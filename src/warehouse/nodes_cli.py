"""The ``warehouse nodes`` commands: this node's id and public key, and the nodes it trusts."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from warehouse.settings import Settings

console = Console()
nodes_app = typer.Typer(help="Node identities for exchanging signed model bundles.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@nodes_app.command("show")
def nodes_show(ctx: typer.Context) -> None:
    """Print this node's id and SM2 public key, to give to the operator of another node."""
    from warehouse.nodes import this_node
    from warehouse.security import PUBLIC_KEY_FILE, keys_dir

    settings = _settings(ctx)
    node = this_node(settings)
    console.print(f"node id     {node.node_id}", highlight=False)
    console.print(f"public key  {node.public_key}", highlight=False, soft_wrap=True)
    console.print(f"key file    {keys_dir(settings) / PUBLIC_KEY_FILE}", highlight=False, soft_wrap=True)


@nodes_app.command("trust")
def nodes_trust(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(help="The other node's id, as its operator gave it.")],
    public_key_file: Annotated[Path, typer.Argument(help="The other node's node_sm2.pub.")],
    actor: Annotated[str | None, typer.Option(help="Who acts (default: the OS user).")] = None,
) -> None:
    """Trust another node's public key, so that bundles it signs can be imported here."""
    from warehouse.nodes import trust_node

    node = trust_node(
        _settings(ctx), node_id=node_id, public_key_file=public_key_file, actor=actor or getpass.getuser()
    )
    console.print(f"trusted node {node.node_id}", highlight=False)


@nodes_app.command("untrust")
def nodes_untrust(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(help="The trusted node's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log and named when its bundles are refused).")],
    actor: Annotated[str | None, typer.Option(help="Who acts (default: the OS user).")] = None,
) -> None:
    """Withdraw trust in another node: bundles it signs are refused from now on."""
    from warehouse.nodes import untrust_node

    record = untrust_node(_settings(ctx), node_id=node_id, reason=reason, actor=actor or getpass.getuser())
    console.print(f"untrusted node {record.node_id}: {record.reason}", highlight=False)


@nodes_app.command("list")
def nodes_list(ctx: typer.Context) -> None:
    """This node and every node it trusts."""
    from warehouse.nodes import known_nodes

    table = Table("node id", "role", "public key", title="nodes")
    for node in known_nodes(_settings(ctx)):
        table.add_row(node.node_id, "this node" if node.this_node else "trusted", node.public_key)
    console.print(table)
