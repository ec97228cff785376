"""Commercial cryptography (国密) primitives used across the warehouse: SM3 digests and SM2 node keys.

SM3 comes from ``cryptography`` (OpenSSL's implementation, hundreds of MB/s); pure-Python SM3 is
three orders of magnitude slower and must not be used on artifacts. SM2 signatures use ``gmssl``'s
curve arithmetic with two guards against its sharp edges: the signing nonce is drawn from
:mod:`secrets` (gmssl's default comes from :mod:`random`), and the public key is set after
construction (its constructor strips every leading ``0``/``4`` character of a key starting ``04``).
gmssl has no key generation, so the private key is drawn with :mod:`secrets` and the public key
derived as ``d·G``. Signatures are SM2 with SM3 over ``Z_A || M`` with the default user id
``1234567812345678`` (GB/T 35276), as ``r || s`` in 128 hex characters.

API keys read ``wh_<key id>_<secret>``: the key id (16 hex characters) finds the stored key, the
secret (256 random bits) is kept only as HMAC-SM3 under a per-key salt and compared in constant time.
A fast keyed hash is enough because the secret is random, not a password; it keeps every request cheap.
Classification levels order data from ``public`` to ``restricted``; a clearance reaches its own level
and every level below it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from warehouse.errors import ConfigurationError, InvalidRequest

if TYPE_CHECKING:
    from gmssl.sm2 import CryptSM2  # type: ignore[import-untyped]  # gmssl ships no type information

    from warehouse.settings import Settings

SM2_ORDER = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
"""Order n of the SM2 recommended curve's base point (GB/T 32918.5)."""
PRIVATE_KEY_FILE = "node_sm2.key"
PUBLIC_KEY_FILE = "node_sm2.pub"
TRUSTED_KEYS_DIR = "trusted"
"""Public keys of other nodes, one ``<key id>.pub`` file each."""
SM3_CHUNK_BYTES = 1 << 20
ClassificationLevel = Literal["public", "internal", "sensitive", "restricted"]
"""Data classification levels, from the least to the most protected."""
CLASSIFICATION_LEVELS: tuple[ClassificationLevel, ...] = ("public", "internal", "sensitive", "restricted")
API_KEY_PREFIX = "wh"
API_KEY_ID_HEX = 16
API_KEY_SECRET_BYTES = 32


def clears(clearance: ClassificationLevel, level: ClassificationLevel) -> bool:
    """True when a caller cleared to ``clearance`` may see data classified ``level``."""
    return CLASSIFICATION_LEVELS.index(clearance) >= CLASSIFICATION_LEVELS.index(level)


def parse_classification(value: str) -> ClassificationLevel:
    """``value`` as a classification level (``invalid_request`` naming the levels otherwise)."""
    for level in CLASSIFICATION_LEVELS:
        if value == level:
            return level
    raise InvalidRequest(f"a classification level is one of {', '.join(CLASSIFICATION_LEVELS)}, got {value!r}")


def highest_level(levels: list[ClassificationLevel]) -> ClassificationLevel:
    """The most protected of ``levels`` (``restricted`` when there are none: unknown is protected most)."""
    return max(levels, key=CLASSIFICATION_LEVELS.index, default="restricted")


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key as (key id, secret, salt); the key a caller sends is :func:`format_api_key`."""
    return secrets.token_hex(API_KEY_ID_HEX // 2), secrets.token_urlsafe(API_KEY_SECRET_BYTES), secrets.token_hex(16)


def format_api_key(key_id: str, secret: str) -> str:
    """The key as handed to its holder: ``wh_<key id>_<secret>``."""
    return f"{API_KEY_PREFIX}_{key_id}_{secret}"


def parse_api_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a key in the ``wh_<key id>_<secret>`` form; None for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[2]:
        return None
    key_id = parts[1]
    if len(key_id) != API_KEY_ID_HEX or any(char not in "0123456789abcdef" for char in key_id):
        return None
    return key_id, parts[2]


def api_key_digest(*, key_id: str, secret: str, salt: str) -> str:
    """HMAC-SM3 of the key under its salt (hex): what the metadata DB stores instead of the secret."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as crypto_hmac

    mac = crypto_hmac.HMAC(bytes.fromhex(salt), hashes.SM3())
    mac.update(f"{key_id}:{secret}".encode())
    return mac.finalize().hex()


def api_key_matches(*, key_id: str, secret: str, salt: str, digest: str) -> bool:
    """True when ``secret`` is the key's secret; the comparison takes the same time either way."""
    return hmac.compare_digest(api_key_digest(key_id=key_id, secret=secret, salt=salt), digest)


def sm3_hex(data: bytes) -> str:
    """SM3 hex digest of ``data``."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def sm3_file_hex(path: Path) -> str:
    """SM3 hex digest of a file, read in 1 MiB chunks so that memory stays flat."""
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    with path.open("rb") as stream:
        while chunk := stream.read(SM3_CHUNK_BYTES):
            digest.update(chunk)
    return digest.finalize().hex()


class Sm2KeyPair(BaseModel):
    """An SM2 key pair as hex: private scalar (64 chars) and public point ``x || y`` (128 chars)."""

    model_config = ConfigDict(frozen=True)

    private_key: str
    public_key: str

    @property
    def key_id(self) -> str:
        """Short stable id of the public key: the first 16 hex characters of its SM3 digest."""
        return public_key_id(self.public_key)


def public_key_id(public_key: str) -> str:
    """Key id of a public key (hex ``x || y``)."""
    return sm3_hex(bytes.fromhex(public_key))[:16]


def generate_sm2_key_pair() -> Sm2KeyPair:
    """A fresh key pair: private key uniform in [1, n-1] from :mod:`secrets`, public key d·G."""
    from gmssl.sm2 import default_ecc_table

    private = secrets.randbelow(SM2_ORDER - 1) + 1
    private_hex = f"{private:064x}"
    public_hex = _crypt(private_hex, "")._kg(private, default_ecc_table["g"])
    return Sm2KeyPair(private_key=private_hex, public_key=public_hex)


def sm2_sign(key: Sm2KeyPair, message: bytes) -> str:
    """SM2-with-SM3 signature of ``message`` (``r || s`` hex), with a nonce from :mod:`secrets`."""
    crypt = _crypt(key.private_key, key.public_key)
    while True:  # gmssl returns None for the (negligibly rare) nonces the standard says to redraw
        nonce = f"{secrets.randbelow(SM2_ORDER - 1) + 1:064x}"
        signature = crypt.sign_with_sm3(message, nonce)
        if signature is not None:
            return str(signature)


def sm2_verify(public_key: str, message: bytes, signature: str) -> bool:
    """True when ``signature`` is a valid SM2-with-SM3 signature of ``message`` under ``public_key``."""
    if len(signature) != 128 or len(public_key) != 128:
        return False
    try:
        int(signature, 16)
        rs = (int(signature[:64], 16), int(signature[64:], 16))
    except ValueError:
        return False
    if not all(0 < value < SM2_ORDER for value in rs):
        return False
    return bool(_crypt("", public_key).verify_with_sm3(signature, message))


def _crypt(private_key: str, public_key: str) -> CryptSM2:
    from gmssl.sm2 import CryptSM2

    crypt = CryptSM2(private_key=private_key, public_key="")
    crypt.public_key = public_key  # set afterwards: the constructor mangles keys that start with "04"
    return crypt


def keys_dir(settings: Settings) -> Path:
    """Where this node keeps its SM2 key pair and the trusted public keys of other nodes."""
    return settings.data_dir / "keys"


def ensure_node_key(settings: Settings) -> Sm2KeyPair:
    """This node's key pair, generated on first use (private key file mode 0600, directory 0700)."""
    directory = keys_dir(settings)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if private_path.is_file():
        return _read_key_pair(private_path, public_path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = generate_sm2_key_pair()
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as stream:
        stream.write(key.private_key + "\n")
    public_path.write_text(key.public_key + "\n", encoding="ascii")
    return key


def trusted_public_key(settings: Settings, key_id: str) -> str:
    """The public key with id ``key_id``: this node's own, or one in ``keys/trusted``."""
    own = keys_dir(settings) / PUBLIC_KEY_FILE
    candidates = [own, keys_dir(settings) / TRUSTED_KEYS_DIR / f"{key_id}.pub"]
    for path in candidates:
        if path.is_file():
            public_key = path.read_text(encoding="ascii").strip()
            if public_key_id(public_key) == key_id:
                return public_key
    raise ConfigurationError(f"no trusted SM2 public key with id {key_id!r} in {keys_dir(settings)}")


def _read_key_pair(private_path: Path, public_path: Path) -> Sm2KeyPair:
    if private_path.stat().st_mode & 0o077:
        raise ConfigurationError(f"{private_path} is readable by other users; chmod 600 it")
    return Sm2KeyPair(
        private_key=private_path.read_text(encoding="ascii").strip(),
        public_key=public_path.read_text(encoding="ascii").strip(),
    )
