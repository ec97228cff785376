"""Node identities for moving model bundles between nodes (province to city and back).

A node's id is the key id of its SM2 key pair (:func:`warehouse.security.public_key_id`): 16 hex
characters of the public key's SM3 digest. Nodes exchange ids and public key files out of band;
``trust_node`` refuses a key whose id is not the one the operator was given (a typo or a swapped
file) or which is not a point on the SM2 curve, and stores it in ``keys/trusted/<node id>.pub``,
where :func:`warehouse.security.trusted_public_key` finds it. Trusting a node is audited.

``untrust_node`` withdraws that trust (a compromised key, a node taken out of service): the key
file leaves ``keys/trusted`` and ``keys/untrusted/<node id>.json`` records who withdrew it, when and
why, so that a later import of a bundle it signed is refused with ``untrusted_node`` naming the
reason. Versions imported from it before stay as they are (they were re-signed by this node at
import); suspend or delist them if they must not be served. Untrusting is audited with its reason;
trusting the node again clears the record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from warehouse.audit import record_event
from warehouse.db import utc_now
from warehouse.errors import ConfigurationError, InvalidRequest, UntrustedNode
from warehouse.security import TRUSTED_KEYS_DIR, ensure_node_key, keys_dir, public_key_id, trusted_public_key

if TYPE_CHECKING:
    from pathlib import Path

    from warehouse.settings import Settings

NODE_ID = re.compile(r"[0-9a-f]{16}")
PUBLIC_KEY = re.compile(r"[0-9a-f]{128}")
# The SM2 recommended curve y^2 = x^3 + ax + b over F_p (GB/T 32918.5).
SM2_P = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF", 16)
SM2_A = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC", 16)
UNTRUSTED_KEYS_DIR = "untrusted"
"""Records of withdrawn trust, one ``<node id>.json`` each (who, when, why, the key)."""
SM2_B = int("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93", 16)


class NodeIdentity(BaseModel):
    """A node as this node knows it: its id and SM2 public key."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    public_key: str
    """SM2 public point ``x || y`` in 128 hex characters."""
    this_node: bool
    """True for this node's own key, False for a trusted other node."""


def this_node(settings: Settings) -> NodeIdentity:
    """This node's id and public key (the key pair is made on first use)."""
    key = ensure_node_key(settings)
    return NodeIdentity(node_id=key.key_id, public_key=key.public_key, this_node=True)


def trust_node(settings: Settings, *, node_id: str, public_key_file: Path, actor: str) -> NodeIdentity:
    """Trust another node's public key: bundles it signs can then be imported here."""
    node_id = node_id.strip().lower()
    public_key = _read_public_key(public_key_file)
    if not NODE_ID.fullmatch(node_id):
        raise InvalidRequest(f"a node id is 16 hex characters, got {node_id!r}")
    if public_key_id(public_key) != node_id:
        raise InvalidRequest(
            f"{public_key_file.name} holds the key of node {public_key_id(public_key)}, not {node_id}; "
            "check the id and the file with the other node's operator"
        )
    directory = keys_dir(settings) / TRUSTED_KEYS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{node_id}.pub"
    partial = directory / f".{node_id}.pub.partial"
    partial.write_text(public_key + "\n", encoding="ascii")
    os.replace(partial, path)
    _untrusted_path(settings, node_id).unlink(missing_ok=True)
    record_event(settings, actor=actor, action="node.trust", subject=f"node/{node_id}", detail={"node_id": node_id})
    return NodeIdentity(node_id=node_id, public_key=public_key, this_node=False)


class UntrustRecord(BaseModel):
    """Why and by whom trust in a node was withdrawn."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    public_key: str
    reason: str
    actor: str
    at: dt.datetime


def untrust_node(settings: Settings, *, node_id: str, reason: str, actor: str) -> UntrustRecord:
    """Withdraw trust in another node: bundles it signs are refused from now on (``untrusted_node``)."""
    node_id = node_id.strip().lower()
    reason = reason.strip()
    if not NODE_ID.fullmatch(node_id):
        raise InvalidRequest(f"a node id is 16 hex characters, got {node_id!r}")
    if not reason:
        raise InvalidRequest("give the reason for untrusting a node (it is kept in the audit log)")
    if node_id == ensure_node_key(settings).key_id:
        raise InvalidRequest(f"{node_id} is this node's own key; it cannot be untrusted here")
    trusted = keys_dir(settings) / TRUSTED_KEYS_DIR / f"{node_id}.pub"
    if not trusted.is_file():
        raise InvalidRequest(f"node {node_id} is not trusted here; nothing to untrust")
    record = UntrustRecord(
        node_id=node_id,
        public_key=trusted.read_text(encoding="ascii").strip(),
        reason=reason,
        actor=actor,
        at=utc_now(),
    )
    path = _untrusted_path(settings, node_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)  # the record first: a crash in between leaves the node trusted and recorded
    trusted.unlink()
    record_event(
        settings,
        actor=actor,
        action="node.untrust",
        subject=f"node/{node_id}",
        detail={"node_id": node_id, "reason": reason},
    )
    return record


def untrust_record(settings: Settings, node_id: str) -> UntrustRecord | None:
    """Why trust in a node was withdrawn (None: it never was, or it was trusted again since)."""
    path = _untrusted_path(settings, node_id)
    if not NODE_ID.fullmatch(node_id) or not path.is_file():
        return None
    return UntrustRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))


def _untrusted_path(settings: Settings, node_id: str) -> Path:
    return keys_dir(settings) / UNTRUSTED_KEYS_DIR / f"{node_id}.json"


def known_nodes(settings: Settings) -> list[NodeIdentity]:
    """This node first, then every trusted node, by id."""
    directory = keys_dir(settings) / TRUSTED_KEYS_DIR
    trusted = sorted(directory.glob("*.pub")) if directory.is_dir() else []
    others = [
        NodeIdentity(node_id=path.stem, public_key=path.read_text(encoding="ascii").strip(), this_node=False)
        for path in trusted
    ]
    return [this_node(settings), *(node for node in others if public_key_id(node.public_key) == node.node_id)]


def trusted_node_key(settings: Settings, node_id: str) -> str:
    """The public key of a trusted node (or of this node); :class:`UntrustedNode` when there is none."""
    try:
        return trusted_public_key(settings, node_id)
    except ConfigurationError as exc:
        withdrawn = untrust_record(settings, node_id)
        if withdrawn is not None:
            raise UntrustedNode(
                f"node {node_id} is not trusted here: {withdrawn.actor} untrusted it at "
                f"{withdrawn.at.isoformat(timespec='seconds')} ({withdrawn.reason})"
            ) from exc
        raise UntrustedNode(
            f"node {node_id} is not trusted here; get its public key from its operator and run "
            f"`warehouse nodes trust {node_id} PUBKEY_FILE`"
        ) from exc


def _read_public_key(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip().lower()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read a public key from {path.name}: {exc}") from exc
    if not PUBLIC_KEY.fullmatch(text):
        raise InvalidRequest(f"{path.name} is not an SM2 public key (128 hex characters, x || y)")
    x, y = int(text[:64], 16), int(text[64:], 16)
    if x >= SM2_P or y >= SM2_P or (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P != 0:
        raise InvalidRequest(f"{path.name} is not a point on the SM2 curve")
    return text
