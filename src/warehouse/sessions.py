"""Web-console sessions: a signed cookie derived from an API key, and the CSRF token bound to it.

A session token is ``v1.<key id>.<expiry, unix seconds>.<HMAC-SHA256>``, signed with a per-node
secret kept in the data dir (``keys/console_session.key``, mode 0600, made on first use). It never
holds the key's secret; every request re-checks the key itself (:mod:`warehouse.identity`), so
revoking or expiring the key, or disabling its principal, ends the session at once. The CSRF token
is an HMAC of the session token: the console's pages carry it and its scripts send it in the
``X-CSRF-Token`` header with every state-changing request (a cross-site page can neither read it
nor, with ``SameSite=Strict``, send the cookie).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from warehouse.security import API_KEY_ID_HEX, keys_dir

if TYPE_CHECKING:
    from warehouse.settings import Settings

SESSION_COOKIE = "wh_session"
CSRF_HEADER = "X-CSRF-Token"
SECRET_FILE = "console_session.key"
TOKEN_VERSION = "v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: they need no CSRF token."""


class ConsoleSession(BaseModel):
    """A verified session token: which key it stands for and until when."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    expires_at: dt.datetime


class SessionSigner:
    """Signs and checks session tokens and their CSRF tokens with this node's console secret."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret: bytes | None = None

    def issue(self, key_id: str, *, expires_at: dt.datetime) -> str:
        """A session token for ``key_id`` valid until ``expires_at``."""
        payload = f"{TOKEN_VERSION}.{key_id}.{int(expires_at.timestamp())}"
        return f"{payload}.{self._mac('session', payload)}"

    def verify(self, token: str, *, now: dt.datetime) -> ConsoleSession | None:
        """The session ``token`` stands for, or None if it is malformed, forged or past its expiry."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != TOKEN_VERSION or len(parts[1]) != API_KEY_ID_HEX or not parts[2].isdigit():
            return None
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], self._mac("session", payload)):
            return None
        expires_at = dt.datetime.fromtimestamp(int(parts[2]), tz=dt.UTC)
        if expires_at <= now:
            return None
        return ConsoleSession(key_id=parts[1], expires_at=expires_at)

    def csrf_token(self, session_token: str) -> str:
        """The CSRF token that goes with ``session_token``."""
        return self._mac("csrf", session_token)

    def csrf_matches(self, session_token: str, sent: str | None) -> bool:
        """True when ``sent`` is the CSRF token of ``session_token``."""
        return sent is not None and hmac.compare_digest(sent, self.csrf_token(session_token))

    def _mac(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._key(), f"{purpose}:{message}".encode(), hashlib.sha256)
        return digest.hexdigest()

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = console_secret(self._settings)
        return self._secret


def console_secret(settings: Settings) -> bytes:
    """This node's console signing secret, generated on first use (file mode 0600)."""
    path = keys_dir(settings) / SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first: read theirs
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        with os.fdopen(descriptor, "w", encoding="ascii") as stream:
            stream.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
