"""国密 primitives: SM3 and SM2 known answers, SM2 round trips over many keys, node key files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from warehouse.errors import ConfigurationError
from warehouse.security import (
    Sm2KeyPair,
    ensure_node_key,
    generate_sm2_key_pair,
    keys_dir,
    public_key_id,
    sm2_sign,
    sm2_verify,
    sm3_file_hex,
    sm3_hex,
    trusted_public_key,
)
from warehouse.settings import Settings

# GB/T 32918.2-2016 annex A.2: signature over the Fp-256 *test* curve, user id ALICE123@YAHOO.COM.
TEST_CURVE = {
    "n": "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
    "p": "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "a": "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "b": "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "g": "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
}
STANDARD_PRIVATE_KEY = "128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263"
STANDARD_PUBLIC_KEY = (
    "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A"
    "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857"
)
STANDARD_ZA = "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
STANDARD_E = "B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76"
STANDARD_SIGNATURE = (
    "40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1"
    "6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7"
)
KEY_STARTING_04 = Sm2KeyPair(
    private_key="a7bec34628a657214d044c47ce174ef5272be8ff93f313627bec685beb2dd3ac",
    public_key="04725e3882a2ce524b8af4296b0790de676b007daac8bf5c8a96205c81d179ac"
    "178a51d30b3f8d96b8a8f14dfea4fafd8aacf556cb865c02b1c1fdc4a870cdcc",
)


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_known_answers_from_gbt_32905(tmp_path: Path, message: bytes, digest: str) -> None:
    path = tmp_path / "message.bin"
    path.write_bytes(message)
    assert sm3_hex(message) == digest
    assert sm3_file_hex(path) == digest


def test_sm2_verifies_the_gbt_32918_example() -> None:
    from gmssl.sm2 import CryptSM2

    curve = CryptSM2(private_key="", public_key="", ecc_table=TEST_CURVE)
    derived_public = curve._kg(int(STANDARD_PRIVATE_KEY, 16), TEST_CURVE["g"])
    user_id = b"ALICE123@YAHOO.COM"
    za = sm3_hex(
        (len(user_id) * 8).to_bytes(2, "big")
        + user_id
        + bytes.fromhex(TEST_CURVE["a"] + TEST_CURVE["b"] + TEST_CURVE["g"] + derived_public)
    )
    e = sm3_hex(bytes.fromhex(za) + b"message digest")
    curve.public_key = derived_public
    tampered = STANDARD_SIGNATURE[:-1] + "8"

    assert derived_public.upper() == STANDARD_PUBLIC_KEY
    assert (za.upper(), e.upper()) == (STANDARD_ZA, STANDARD_E)
    assert curve.verify(STANDARD_SIGNATURE.lower(), bytes.fromhex(e))
    assert not curve.verify(tampered.lower(), bytes.fromhex(e))


def test_sm2_round_trips_over_many_keys() -> None:
    failures = []
    for index in range(200):
        key = generate_sm2_key_pair()
        message = f"artifact digest {index}".encode()
        signature = sm2_sign(key, message)
        if not sm2_verify(key.public_key, message, signature) or sm2_verify(key.public_key, message + b"!", signature):
            failures.append(key.public_key)
    assert failures == []


def test_sm2_keys_starting_with_04_are_not_mangled() -> None:
    signature = sm2_sign(KEY_STARTING_04, b"payload")
    assert sm2_verify(KEY_STARTING_04.public_key, b"payload", signature)
    assert not sm2_verify(KEY_STARTING_04.public_key, b"payload2", signature)


def test_sm2_signatures_are_randomised_and_bound_to_the_key() -> None:
    key, other = generate_sm2_key_pair(), generate_sm2_key_pair()
    first, second = sm2_sign(key, b"m"), sm2_sign(key, b"m")
    assert first != second
    assert sm2_verify(key.public_key, b"m", first) and sm2_verify(key.public_key, b"m", second)
    assert not sm2_verify(other.public_key, b"m", first)


@pytest.mark.parametrize("signature", ["", "zz" * 64, "0" * 128, "ab" * 63, "f" * 128])
def test_malformed_signatures_do_not_verify(signature: str) -> None:
    assert not sm2_verify(generate_sm2_key_pair().public_key, b"m", signature)


def test_node_key_is_made_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    key = ensure_node_key(settings)
    private_file = keys_dir(settings) / "node_sm2.key"

    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir(settings).stat().st_mode) == 0o700
    assert ensure_node_key(settings) == key
    assert trusted_public_key(settings, key.key_id) == key.public_key
    assert key.key_id == public_key_id(key.public_key) and len(key.key_id) == 16


def test_node_key_refuses_loose_permissions_and_unknown_key_ids(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    ensure_node_key(settings)
    (keys_dir(settings) / "node_sm2.key").chmod(0o644)

    with pytest.raises(ConfigurationError, match="chmod 600"):
        ensure_node_key(settings)
    with pytest.raises(ConfigurationError, match="no trusted SM2 public key"):
        trusted_public_key(settings, "0" * 16)


def test_init_command_makes_the_node_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warehouse.cli import app

    data_dir = tmp_path / "wh"
    first = CliRunner().invoke(app, ["--data-dir", str(data_dir), "init"])
    second = CliRunner().invoke(app, ["--data-dir", str(data_dir), "init"])
    key = ensure_node_key(Settings(data_dir=data_dir))

    assert first.exit_code == 0 and f"node SM2 key id {key.key_id}" in first.stdout
    assert second.exit_code == 0 and f"node SM2 key id {key.key_id}" in second.stdout
    assert stat.S_IMODE((data_dir / "keys" / "node_sm2.key").stat().st_mode) == 0o600
