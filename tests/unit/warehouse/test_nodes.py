"""Node identities: show this node, trust another node's key (checked against its id), list them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warehouse.audit import list_entries
from warehouse.cli import app
from warehouse.errors import InvalidRequest, UntrustedNode
from warehouse.nodes import known_nodes, this_node, trust_node, trusted_node_key
from warehouse.security import keys_dir
from warehouse.settings import Settings


def test_trust_another_node_through_the_cli(tmp_path: Path) -> None:
    province, city = Settings(data_dir=tmp_path / "province"), Settings(data_dir=tmp_path / "city")
    runner = CliRunner()
    shown = runner.invoke(app, ["--data-dir", str(province.data_dir), "nodes", "show"])
    origin = this_node(province)
    key_file = keys_dir(province) / "node_sm2.pub"

    trusted = runner.invoke(
        app, ["--data-dir", str(city.data_dir), "nodes", "trust", origin.node_id, str(key_file), "--actor", "ops"]
    )
    listed = runner.invoke(app, ["--data-dir", str(city.data_dir), "nodes", "list"])

    assert shown.exit_code == 0 and f"node id     {origin.node_id}" in shown.stdout
    assert origin.public_key in shown.stdout.replace("\n", "")
    assert trusted.exit_code == 0 and f"trusted node {origin.node_id}" in trusted.stdout
    assert listed.exit_code == 0 and origin.node_id in listed.stdout and "this node" in listed.stdout
    assert [(node.node_id, node.this_node) for node in known_nodes(city)] == [
        (this_node(city).node_id, True),
        (origin.node_id, False),
    ]
    assert trusted_node_key(city, origin.node_id) == origin.public_key
    (entry,) = list_entries(city, subject="node/")
    assert (entry.actor, entry.action, entry.subject) == ("ops", "node.trust", f"node/{origin.node_id}")


def test_a_key_that_is_not_the_named_node_or_not_on_the_curve_is_refused(tmp_path: Path) -> None:
    province, city = Settings(data_dir=tmp_path / "province"), Settings(data_dir=tmp_path / "city")
    origin = this_node(province)
    key_file = keys_dir(province) / "node_sm2.pub"
    off_curve = tmp_path / "off_curve.pub"
    off_curve.write_text(origin.public_key[:-1] + ("0" if origin.public_key[-1] != "0" else "1"), encoding="ascii")
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key", encoding="ascii")

    with pytest.raises(InvalidRequest, match=f"holds the key of node {origin.node_id}, not 0123456789abcdef"):
        trust_node(city, node_id="0123456789abcdef", public_key_file=key_file, actor="ops")
    with pytest.raises(InvalidRequest, match="not a point on the SM2 curve"):
        trust_node(city, node_id=origin.node_id, public_key_file=off_curve, actor="ops")
    with pytest.raises(InvalidRequest, match="not an SM2 public key"):
        trust_node(city, node_id=origin.node_id, public_key_file=garbage, actor="ops")
    with pytest.raises(UntrustedNode, match=f"warehouse nodes trust {origin.node_id}") as caught:
        trusted_node_key(city, origin.node_id)
    assert (caught.value.status, caught.value.code) == (422, "untrusted_node")
    assert [node.node_id for node in known_nodes(city)] == [this_node(city).node_id]


def test_untrust_withdraws_the_key_with_an_audited_reason(tmp_path: Path) -> None:
    province, city = Settings(data_dir=tmp_path / "province"), Settings(data_dir=tmp_path / "city")
    origin = this_node(province)
    key_file = keys_dir(province) / "node_sm2.pub"
    trust_node(city, node_id=origin.node_id, public_key_file=key_file, actor="ops")
    runner = CliRunner()
    base = ["--data-dir", str(city.data_dir), "nodes", "untrust"]

    no_reason = runner.invoke(app, [*base, origin.node_id, "--reason", " ", "--actor", "ops"])
    untrusted = runner.invoke(app, [*base, origin.node_id, "--reason", "key leaked", "--actor", "sec"])
    twice = runner.invoke(app, [*base, origin.node_id, "--reason", "again", "--actor", "sec"])
    own = runner.invoke(app, [*base, this_node(city).node_id, "--reason", "no", "--actor", "sec"])

    assert no_reason.exit_code == 1 and "give the reason" in str(no_reason.exception)
    assert untrusted.exit_code == 0 and f"untrusted node {origin.node_id}: key leaked" in untrusted.stdout
    assert twice.exit_code == 1 and "is not trusted here; nothing to untrust" in str(twice.exception)
    assert own.exit_code == 1 and "this node's own key" in str(own.exception)
    assert [node.node_id for node in known_nodes(city)] == [this_node(city).node_id]
    with pytest.raises(UntrustedNode, match=r"sec untrusted it at .* \(key leaked\)") as caught:
        trusted_node_key(city, origin.node_id)
    assert caught.value.code == "untrusted_node"
    entries = list_entries(city, subject=f"node/{origin.node_id}")
    assert [(entry.actor, entry.action, entry.detail.get("reason")) for entry in entries] == [
        ("sec", "node.untrust", "key leaked"),
        ("ops", "node.trust", None),
    ]

    trust_node(city, node_id=origin.node_id, public_key_file=key_file, actor="ops")
    assert trusted_node_key(city, origin.node_id) == origin.public_key
