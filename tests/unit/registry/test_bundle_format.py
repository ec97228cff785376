"""The signed bundle format on its own: round trip, tampering, untrusted signers, unsafe member names."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest

from registry.bundle import MANIFEST_MEMBER, SIGNATURE_MEMBER, BundleManifest, unpack_bundle, write_bundle
from warehouse.errors import BundleInvalid, BundleTampered, UntrustedNode
from warehouse.security import Sm2KeyPair, generate_sm2_key_pair, sm3_hex

ONNX_BYTES = bytes(range(256)) * 40
CARD_TEXT = "# 模型卡 fire_risk\n消防风险\n"


def _lookup(*keys: Sm2KeyPair) -> Callable[[str], str]:
    trusted = {key.key_id: key.public_key for key in keys}

    def public_key_for(key_id: str) -> str:
        if key_id not in trusted:
            raise UntrustedNode(f"node {key_id} is not trusted")
        return trusted[key_id]

    return public_key_for


def _write(tmp_path: Path, key: Sm2KeyPair) -> Path:
    sources = tmp_path / "sources"
    (sources / "extra").mkdir(parents=True)
    (sources / "model.onnx").write_bytes(ONNX_BYTES)
    (sources / "extra" / "card.md").write_text(CARD_TEXT, encoding="utf-8")
    out = tmp_path / "fire_risk-v3.tar"
    write_bundle(
        out,
        files={"model/model.onnx": sources / "model.onnx", "card.md": sources / "extra" / "card.md"},
        key=key,
        model_name="fire_risk",
        version="3",
        alias="champion",
    )
    return out


def _members(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(bundle) as archive:
        return [(info, archive.extractfile(info).read() if info.isfile() else b"") for info in archive]  # type: ignore[union-attr]  # files always have a stream


def _rewrite(bundle: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(bundle, "w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, BytesIO(data) if info.isfile() else None)


def _replace(bundle: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    _rewrite(bundle, [(info, change(data) if info.name == name else data) for info, data in _members(bundle)])


def _flip(data: bytes) -> bytes:
    return data[:50] + bytes([data[50] ^ 1]) + data[51:]


def test_round_trip_keeps_every_member_and_the_manifest(tmp_path: Path) -> None:
    key = generate_sm2_key_pair()
    bundle = _write(tmp_path, key)

    unpacked = unpack_bundle(bundle, tmp_path / "out", public_key_for=_lookup(key))
    names = [info.name for info, _ in _members(bundle)]

    assert names == [MANIFEST_MEMBER, SIGNATURE_MEMBER, "card.md", "model/model.onnx"]
    assert (unpacked.directory / "model" / "model.onnx").read_bytes() == ONNX_BYTES
    assert (unpacked.directory / "card.md").read_text(encoding="utf-8") == CARD_TEXT
    manifest = unpacked.manifest
    assert (manifest.node_key_id, manifest.model_name, manifest.version, manifest.alias) == (
        key.key_id,
        "fire_risk",
        "3",
        "champion",
    )
    assert manifest.member("model/model.onnx") is not None
    assert manifest.member("model/model.onnx").sm3 == sm3_hex(ONNX_BYTES)  # type: ignore[union-attr]  # checked above
    assert all(not name.startswith("/") for name in names)


def test_a_flipped_member_byte_is_refused_naming_the_member(tmp_path: Path) -> None:
    key = generate_sm2_key_pair()
    bundle = _write(tmp_path, key)
    _replace(bundle, "model/model.onnx", _flip)

    with pytest.raises(BundleTampered, match=r"model/model\.onnx does not match its SM3 digest") as caught:
        unpack_bundle(bundle, tmp_path / "out", public_key_for=_lookup(key))

    assert caught.value.code == "bundle_tampered"
    assert not (tmp_path / "out" / "model" / "model.onnx").exists()


def test_a_changed_manifest_or_swapped_signature_is_refused(tmp_path: Path) -> None:
    key = generate_sm2_key_pair()
    first, second = _write(tmp_path / "a", key), _write(tmp_path / "b", key)
    other_signature = dict((info.name, data) for info, data in _members(second))[SIGNATURE_MEMBER]
    _replace(first, SIGNATURE_MEMBER, lambda _: other_signature)  # same key, other manifest (another created_at)
    _replace(second, MANIFEST_MEMBER, lambda data: data.replace(b'"version": "3"', b'"version": "4"'))

    for bundle in (first, second):
        with pytest.raises(BundleTampered, match=r"SM2 signature of manifest\.json"):
            unpack_bundle(bundle, tmp_path / bundle.parent.name / "out", public_key_for=_lookup(key))


def test_a_signature_by_an_untrusted_node_is_refused(tmp_path: Path) -> None:
    signer, trusted = generate_sm2_key_pair(), generate_sm2_key_pair()
    bundle = _write(tmp_path, signer)

    with pytest.raises(UntrustedNode, match=signer.key_id):
        unpack_bundle(bundle, tmp_path / "out", public_key_for=_lookup(trusted))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/escape.txt", "model/../../escape.txt", "model\\x.onnx"])
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    key = generate_sm2_key_pair()
    bundle = _write(tmp_path, key)
    members = _members(bundle)
    _rewrite(bundle, [*members, (tarfile.TarInfo(name), b"owned")])

    with pytest.raises(BundleInvalid, match="path traversal"):
        unpack_bundle(bundle, tmp_path / "out" / "inner", public_key_for=_lookup(key))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "escape.txt").exists()


def test_a_signed_manifest_listing_a_traversal_path_is_refused(tmp_path: Path) -> None:
    key = generate_sm2_key_pair()
    bundle = _write(tmp_path, key)
    members = dict((info.name, data) for info, data in _members(bundle))
    manifest = json.loads(members[MANIFEST_MEMBER])
    manifest["members"][0]["path"] = "../card.md"
    forged = json.dumps(manifest).encode()
    from warehouse.security import sm2_sign

    signature = json.dumps({"key_id": key.key_id, "signature": sm2_sign(key, forged)}).encode()
    _replace(bundle, MANIFEST_MEMBER, lambda _: forged)
    _replace(bundle, SIGNATURE_MEMBER, lambda _: signature)

    with pytest.raises(BundleInvalid, match=r"member '\.\./card\.md' .*path traversal"):
        unpack_bundle(bundle, tmp_path / "out", public_key_for=_lookup(key))


def test_links_unlisted_and_missing_members_are_refused(tmp_path: Path) -> None:
    key = generate_sm2_key_pair()
    bundle = _write(tmp_path, key)
    members = _members(bundle)
    link = tarfile.TarInfo("model/link.onnx")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    cases = {
        "not a regular file": [*members, (link, b"")],
        "is not listed in the signed manifest": [*members, (tarfile.TarInfo("extra.txt"), b"x")],
        "lacks members its signed manifest lists: model/model.onnx": members[:-1],
    }
    for expected, content in cases.items():
        _rewrite(bundle, content)
        with pytest.raises((BundleInvalid, BundleTampered), match=expected):
            unpack_bundle(
                bundle,
                tmp_path / expected.replace(" ", "_").replace(":", "").replace("/", "_"),
                public_key_for=_lookup(key),
            )


def test_not_a_bundle(tmp_path: Path) -> None:
    garbage, wrong_order = tmp_path / "garbage.tar", tmp_path / "order.tar"
    garbage.write_bytes(b"not a tar at all" * 100)
    _rewrite(wrong_order, [(tarfile.TarInfo("model.onnx"), b"x")])

    with pytest.raises(BundleInvalid, match="not a readable bundle"):
        unpack_bundle(garbage, tmp_path / "a", public_key_for=_lookup())
    with pytest.raises(BundleInvalid, match=r"expected manifest\.json, found 'model\.onnx'"):
        unpack_bundle(wrong_order, tmp_path / "b", public_key_for=_lookup())
    assert BundleManifest.model_fields["format_version"].default == 1
