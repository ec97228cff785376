"""Who calls: principals (departments and applications), their API keys, and their model grants.

A principal has roles (:class:`~warehouse.permissions.Role`) and a clearance level; an API key
belongs to one principal, is shown once when created, and is stored only as a salted HMAC-SM3
(:mod:`warehouse.security`). Keys are looked up by their key id, never by scanning digests; they
can expire and be revoked. A grant lets a principal with the ``app`` role reach one registered
model. Creating, revoking and granting are appended to the audit chain in the same transaction;
the refusals of callers are audited by the app (:mod:`warehouse.auth`).

A server's :class:`IdentityStore` keeps the callers it authenticated for a moment, so that a request
does not pay for a database transaction: a cached caller is trusted only while the governance
revision (the audit chain's head, which every identity change moves) that the app's watcher last read
is the one it was cached under and was read within :data:`REVISION_MAX_AGE_S`, while no identity
change has been made in this process since, and while its key has not expired and its last use is
recent enough not to be written again. A revocation, a disabled principal or a changed grant thus
takes effect at once in the process that made it and within the watcher's poll (about a second) in
every other server.

Tables are created by the Alembic migration ``0004_identity``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.audit import AuditDetail, append_entry
from warehouse.db import Base, MetadataDB, as_utc, connect_metadata_db, open_metadata_db, utc_now
from warehouse.errors import ApiKeyNotFound, InvalidRequest, PrincipalExists, PrincipalNotFound, Unauthenticated
from warehouse.permissions import Permission, Role, permissions_of
from warehouse.security import (
    ClassificationLevel,
    api_key_digest,
    api_key_matches,
    format_api_key,
    new_api_key,
    parse_api_key,
    parse_classification,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings

PrincipalKind = Literal["department", "application"]
PRINCIPAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
ANONYMOUS = "anonymous"
"""The actor audited for a request whose key names no principal; no principal may take this name."""
BOOTSTRAP_ADMIN = "admin"
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, so that requests do not all write."""
INVALID_KEY = "invalid API key"
CACHED_CALLERS = 1024
"""Most callers a store keeps; when full it forgets them all (they are authenticated again on next use)."""
REVISION_MAX_AGE_S = 3.0
"""A cached caller is trusted only if the watcher read the revision at most this long ago (about three polls)."""


class PrincipalRecord(Base):
    """A department or application that calls the API."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    roles: Mapped[str] = mapped_column(String(200))
    """Comma-separated role names, sorted."""
    clearance: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKeyRecord(Base):
    """One API key: its id, salt and digest (never the secret), expiry, revocation, last use."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    principal_id: Mapped[int] = mapped_column(Integer, ForeignKey("principals.id"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    secret_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ModelGrantRecord(Base):
    """A principal may reach a registered model (what the ``app`` role needs on top of its clearance)."""

    __tablename__ = "model_grants"

    principal_id: Mapped[int] = mapped_column(Integer, ForeignKey("principals.id"), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Caller(BaseModel):
    """The authenticated principal behind one request."""

    model_config = ConfigDict(frozen=True)

    principal: str
    kind: PrincipalKind
    roles: frozenset[Role]
    clearance: ClassificationLevel
    key_id: str
    granted_models: frozenset[str]

    def may(self, permission: Permission) -> bool:
        """True when one of the caller's roles grants ``permission``."""
        return permission in permissions_of(self.roles)


class PrincipalView(BaseModel):
    """A principal as listed."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: PrincipalKind
    roles: tuple[Role, ...]
    clearance: ClassificationLevel
    created_at: dt.datetime
    disabled: bool
    granted_models: tuple[str, ...]


class KeyView(BaseModel):
    """An API key as listed: never its secret or digest."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    principal: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class IssuedKey(BaseModel):
    """A key just created: ``token`` is the only time its secret is ever shown."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    principal: str
    token: str
    expires_at: dt.datetime | None


def add_principal(
    settings: Settings,
    *,
    name: str,
    kind: PrincipalKind,
    roles: Iterable[Role],
    clearance: ClassificationLevel,
    actor: str,
) -> PrincipalView:
    """Create a principal (409 ``principal_exists`` if the name is taken)."""
    with _identity_change(settings) as session:
        record = _new_principal(session, name=name, kind=kind, roles=roles, clearance=clearance, actor=actor)
        return _principal_view(record, ())


def list_principals(settings: Settings) -> list[PrincipalView]:
    """Every principal with its grants, by name."""
    with open_metadata_db(settings) as db, db.session() as session:
        grants: dict[int, list[str]] = {}
        for grant in session.scalars(select(ModelGrantRecord).order_by(ModelGrantRecord.model_name)):
            grants.setdefault(grant.principal_id, []).append(grant.model_name)
        principals = session.scalars(select(PrincipalRecord).order_by(PrincipalRecord.name))
        return [_principal_view(record, grants.get(record.id, ())) for record in principals]


def get_principal(settings: Settings, name: str) -> PrincipalView:
    """One principal with its grants (404 ``principal_not_found`` if there is none of that name)."""
    with open_metadata_db(settings) as db, db.session() as session:
        record = _principal(session, name)
        return _principal_view(record, _grants(session, record.id))


def set_disabled(settings: Settings, name: str, *, disabled: bool, actor: str) -> PrincipalView:
    """Disable a principal (every key of it stops working at once) or enable it again."""
    with _identity_change(settings) as session:
        record = _principal(session, name)
        record.disabled = disabled
        _audit(session, actor, "principal.disable" if disabled else "principal.enable", f"principal/{name}", {})
        return _principal_view(record, _grants(session, record.id))


def grant_model(settings: Settings, *, principal: str, model_name: str, actor: str) -> PrincipalView:
    """Let ``principal`` reach ``model_name`` (idempotent)."""
    with _identity_change(settings) as session:
        record = _principal(session, principal)
        if session.get(ModelGrantRecord, (record.id, model_name)) is None:
            session.add(ModelGrantRecord(principal_id=record.id, model_name=model_name, granted_by=actor))
            _audit(session, actor, "grant.add", f"principal/{principal}", {"model": model_name})
        session.flush()
        return _principal_view(record, _grants(session, record.id))


def revoke_grant(settings: Settings, *, principal: str, model_name: str, actor: str) -> PrincipalView:
    """Withdraw a grant (idempotent)."""
    with _identity_change(settings) as session:
        record = _principal(session, principal)
        grant = session.get(ModelGrantRecord, (record.id, model_name))
        if grant is not None:
            session.delete(grant)
            _audit(session, actor, "grant.remove", f"principal/{principal}", {"model": model_name})
        session.flush()
        return _principal_view(record, _grants(session, record.id))


def create_key(settings: Settings, *, principal: str, actor: str, expires_in: dt.timedelta | None = None) -> IssuedKey:
    """A new API key for ``principal``, valid for ``expires_in`` from now (None: until revoked)."""
    with _identity_change(settings) as session:
        return _issue_key(session, _principal(session, principal), actor=actor, expires_in=expires_in)


def list_keys(settings: Settings, *, principal: str | None = None) -> list[KeyView]:
    """Every key (or one principal's), newest first, without secrets."""
    query = (
        select(ApiKeyRecord, PrincipalRecord.name)
        .join(PrincipalRecord, ApiKeyRecord.principal_id == PrincipalRecord.id)
        .order_by(ApiKeyRecord.created_at.desc())
    )
    if principal is not None:
        query = query.where(PrincipalRecord.name == principal)
    with open_metadata_db(settings) as db, db.session() as session:
        return [_key_view(key, name) for key, name in session.execute(query)]


def revoke_key(settings: Settings, key_id: str, *, actor: str) -> KeyView:
    """Revoke a key for good (idempotent: revoking it again changes nothing)."""
    with _identity_change(settings) as session:
        key = session.get(ApiKeyRecord, key_id)
        if key is None:
            raise ApiKeyNotFound(f"no API key with id {key_id!r}")
        owner = session.get_one(PrincipalRecord, key.principal_id).name
        if key.revoked_at is None:
            key.revoked_at = utc_now()
            _audit(session, actor, "key.revoke", f"key/{key_id}", {"principal": owner})
        return _key_view(key, owner)


def bootstrap_admin(settings: Settings) -> IssuedKey | None:
    """When no principal exists yet: an ``admin`` principal (clearance restricted) and its first key."""
    with _identity_change(settings) as session:
        if session.scalar(select(PrincipalRecord.id).limit(1)) is not None:
            return None
        record = _new_principal(
            session, name=BOOTSTRAP_ADMIN, kind="department", roles=[Role.ADMIN], clearance="restricted", actor="init"
        )
        return _issue_key(session, record, actor="init", expires_in=None)


def provision_caller(
    settings: Settings,
    *,
    name: str,
    roles: Iterable[Role],
    clearance: ClassificationLevel,
    kind: PrincipalKind = "department",
    grants: Sequence[str] = (),
    expires_in: dt.timedelta | None = None,
    actor: str = "provisioning",
) -> IssuedKey:
    """A key for principal ``name``, creating the principal and its grants first if missing (demo, tests, bench)."""
    with _identity_change(settings) as session:
        record = session.scalar(select(PrincipalRecord).where(PrincipalRecord.name == name))
        if record is None:
            record = _new_principal(session, name=name, kind=kind, roles=roles, clearance=clearance, actor=actor)
        for model_name in grants:
            if session.get(ModelGrantRecord, (record.id, model_name)) is None:
                session.add(ModelGrantRecord(principal_id=record.id, model_name=model_name, granted_by=actor))
                _audit(session, actor, "grant.add", f"principal/{name}", {"model": model_name})
        return _issue_key(session, record, actor=actor, expires_in=expires_in)


class _ChangeCounter:
    """How many identity changes this process has made (a cached caller from before one is not trusted)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return self._count

    def bump(self) -> None:
        with self._lock:
            self._count += 1


_LOCAL_CHANGES = _ChangeCounter()


@contextmanager
def _identity_change(settings: Settings) -> Iterator[Session]:
    """A transaction that changes identities; when it ends, this process's cached callers are not trusted."""
    try:
        with open_metadata_db(settings) as db, db.session() as session:
            yield session
    finally:
        _LOCAL_CHANGES.bump()  # after the commit, so that no request can cache what it replaced


@dataclass(frozen=True)
class _CachedCaller:
    """An authenticated caller, with what decides how long it may be answered from memory."""

    caller: Caller
    epoch: tuple[int, int]
    """(governance revision, this process's identity changes) when it was read."""
    expires_at: dt.datetime | None
    last_used_at: dt.datetime

    def usable(self, epoch: tuple[int, int], now: dt.datetime) -> bool:
        """Nothing changed since, the key has not expired, and its last use need not be written yet."""
        if epoch != self.epoch or now - self.last_used_at >= LAST_USED_RESOLUTION:
            return False
        return self.expires_at is None or now < self.expires_at


def _fingerprint(token: str) -> bytes:
    """What the cache keys a token by (so that it holds no secret)."""
    return hashlib.sha256(token.encode()).digest()


class IdentityStore:
    """What a server needs per request: authenticate a key, audit a refusal (one pooled engine).

    Authenticated callers are cached while the app's watcher feeds :meth:`note_revision` (see the
    module docstring); without it every call reads the database.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._db: MetadataDB | None = None
        self._lock = threading.Lock()
        self._callers: dict[bytes, _CachedCaller] = {}
        self._revision: tuple[int, float] | None = None
        """The last governance revision read by the watcher, and when (``time.monotonic``)."""

    def note_revision(self, revision: int) -> None:
        """The governance revision the watcher just read; callers cached under another are dropped."""
        with self._lock:
            if self._revision is not None and self._revision[0] != revision:
                self._callers.clear()
            self._revision = (revision, time.monotonic())

    def cached_caller(self, token: str) -> Caller | None:
        """The caller of ``token`` if the cache may answer for it (no I/O: safe on an event loop), else None."""
        epoch = self._epoch()
        if epoch is None:
            return None
        cached = self._callers.get(_fingerprint(token))
        return cached.caller if cached is not None and cached.usable(epoch, utc_now()) else None

    def authenticate(self, token: str) -> Caller:
        """The caller a bearer token belongs to; :class:`Unauthenticated` for anything else."""
        cached = self.cached_caller(token)
        if cached is not None:
            return cached
        now, fingerprint, epoch = utc_now(), _fingerprint(token), self._epoch()
        with self._database().session() as session:
            caller, key = _authenticated(session, token, now=now)
            expires_at, last_used_at = _optional_utc(key.expires_at), as_utc(key.last_used_at or now)
        if epoch is not None:  # committed: the last use is written
            self._remember(fingerprint, _CachedCaller(caller, epoch, expires_at, last_used_at))
        return caller

    def authenticate_session(self, key_id: str) -> Caller:
        """The caller of a signed console session on ``key_id``, if that key is still valid."""
        with self._database().session() as session:
            return authenticate_key_id(session, key_id, now=utc_now())

    def key_expiry(self, key_id: str) -> dt.datetime | None:
        """When ``key_id`` expires (None: never or unknown)."""
        with self._database().session() as session:
            key = session.get(ApiKeyRecord, key_id)
            return None if key is None or key.expires_at is None else as_utc(key.expires_at)

    def record_refusal(self, *, actor: str, action: str, subject: str, detail: AuditDetail) -> None:
        """Append a refused request to the audit chain."""
        with self._database().session() as session:
            append_entry(session, actor=actor, action=action, subject=subject, detail=detail)

    def close(self) -> None:
        """Release the connection pool (a later call opens a new one)."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.dispose()

    def _epoch(self) -> tuple[int, int] | None:
        """What a cached caller must have been read under; None when the revision is unknown or too old."""
        revision = self._revision
        if revision is None or time.monotonic() - revision[1] > REVISION_MAX_AGE_S:
            return None
        return revision[0], _LOCAL_CHANGES.count

    def _remember(self, fingerprint: bytes, cached: _CachedCaller) -> None:
        with self._lock:
            if len(self._callers) >= CACHED_CALLERS:
                self._callers.clear()
            self._callers[fingerprint] = cached

    def _database(self) -> MetadataDB:
        with self._lock:
            if self._db is None:
                self._db = connect_metadata_db(self._settings)
            return self._db


def authenticate_token(session: Session, token: str, *, now: dt.datetime) -> Caller:
    """Check a ``wh_<key id>_<secret>`` token inside ``session`` and note its use."""
    return _authenticated(session, token, now=now)[0]


def _authenticated(session: Session, token: str, *, now: dt.datetime) -> tuple[Caller, ApiKeyRecord]:
    """The caller of a token and its key record (its use noted)."""
    parsed = parse_api_key(token)
    if parsed is None:
        raise Unauthenticated(INVALID_KEY, reason="malformed")
    key_id, secret = parsed
    key, principal = _key_and_principal(session, key_id)
    if not api_key_matches(key_id=key_id, secret=secret, salt=key.salt, digest=key.secret_digest):
        raise Unauthenticated(INVALID_KEY, reason="wrong_secret", key_id=key_id)
    return _caller(session, key, principal, now), key


def authenticate_key_id(session: Session, key_id: str, *, now: dt.datetime) -> Caller:
    """The caller behind a key already proven (a signed console session): the key must still be valid."""
    key, principal = _key_and_principal(session, key_id)
    return _caller(session, key, principal, now)


def _key_and_principal(session: Session, key_id: str) -> tuple[ApiKeyRecord, PrincipalRecord]:
    row = session.execute(
        select(ApiKeyRecord, PrincipalRecord)
        .join(PrincipalRecord, ApiKeyRecord.principal_id == PrincipalRecord.id)
        .where(ApiKeyRecord.key_id == key_id)
    ).one_or_none()
    if row is None:
        raise Unauthenticated(INVALID_KEY, reason="unknown_key", key_id=key_id)
    key, principal = row
    return key, principal


def _caller(session: Session, key: ApiKeyRecord, principal: PrincipalRecord, now: dt.datetime) -> Caller:
    """Refuse a revoked or expired key or a disabled principal; otherwise the caller (its use noted)."""
    key_id = key.key_id
    refusal = _refusal(key, principal, now)
    if refusal:
        message = "the API key has expired" if refusal == "expired" else INVALID_KEY
        raise Unauthenticated(message, actor=principal.name, reason=refusal, key_id=key_id)
    if key.last_used_at is None or now - as_utc(key.last_used_at) >= LAST_USED_RESOLUTION:
        key.last_used_at = now
    return Caller(
        principal=principal.name,
        kind=parse_kind(principal.kind),
        roles=frozenset(_roles(principal.roles)),
        clearance=parse_classification(principal.clearance),
        key_id=key_id,
        granted_models=frozenset(_grants(session, principal.id)),
    )


def _refusal(key: ApiKeyRecord, principal: PrincipalRecord, now: dt.datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and as_utc(key.expires_at) <= now:
        return "expired"
    if principal.disabled:
        return "principal_disabled"
    return ""


def _new_principal(
    session: Session,
    *,
    name: str,
    kind: PrincipalKind,
    roles: Iterable[Role],
    clearance: ClassificationLevel,
    actor: str,
) -> PrincipalRecord:
    if not PRINCIPAL_NAME.fullmatch(name) or name == ANONYMOUS:
        raise InvalidRequest(f"{name!r} is not a valid principal name (letters, digits, _ . @ -; not {ANONYMOUS!r})")
    role_names = sorted({Role(role) for role in roles})
    if not role_names:
        raise InvalidRequest("a principal needs at least one role")
    if session.scalar(select(PrincipalRecord.id).where(PrincipalRecord.name == name)) is not None:
        raise PrincipalExists(f"a principal named {name!r} already exists")
    record = PrincipalRecord(
        name=name,
        kind=parse_kind(kind),
        roles=",".join(role_names),
        clearance=parse_classification(clearance),
        created_at=utc_now(),
        disabled=False,
    )
    session.add(record)
    session.flush()
    detail = {"kind": kind, "roles": record.roles, "clearance": clearance}
    _audit(session, actor, "principal.create", f"principal/{name}", detail)
    return record


def _issue_key(
    session: Session, principal: PrincipalRecord, *, actor: str, expires_in: dt.timedelta | None
) -> IssuedKey:
    key_id, secret, salt = new_api_key()
    now = utc_now()
    expires_at = None if expires_in is None else now + expires_in
    session.add(
        ApiKeyRecord(
            key_id=key_id,
            principal_id=principal.id,
            salt=salt,
            secret_digest=api_key_digest(key_id=key_id, secret=secret, salt=salt),
            created_at=now,
            expires_at=expires_at,
        )
    )
    detail = {"principal": principal.name, "expires_at": None if expires_at is None else expires_at.isoformat()}
    _audit(session, actor, "key.create", f"key/{key_id}", detail)
    return IssuedKey(
        key_id=key_id, principal=principal.name, token=format_api_key(key_id, secret), expires_at=expires_at
    )


def _audit(session: Session, actor: str, action: str, subject: str, detail: AuditDetail) -> None:
    append_entry(session, actor=actor, action=action, subject=subject, detail=detail)


def _principal(session: Session, name: str) -> PrincipalRecord:
    record = session.scalar(select(PrincipalRecord).where(PrincipalRecord.name == name))
    if record is None:
        raise PrincipalNotFound(f"no principal named {name!r}")
    return record


def _grants(session: Session, principal_id: int) -> list[str]:
    query = (
        select(ModelGrantRecord.model_name)
        .where(ModelGrantRecord.principal_id == principal_id)
        .order_by(ModelGrantRecord.model_name)
    )
    return list(session.scalars(query))


def _principal_view(record: PrincipalRecord, grants: Iterable[str]) -> PrincipalView:
    return PrincipalView(
        name=record.name,
        kind=parse_kind(record.kind),
        roles=tuple(_roles(record.roles)),
        clearance=parse_classification(record.clearance),
        created_at=as_utc(record.created_at),
        disabled=record.disabled,
        granted_models=tuple(grants),
    )


def _key_view(key: ApiKeyRecord, principal: str) -> KeyView:
    return KeyView(
        key_id=key.key_id,
        principal=principal,
        created_at=as_utc(key.created_at),
        expires_at=_optional_utc(key.expires_at),
        revoked_at=_optional_utc(key.revoked_at),
        last_used_at=_optional_utc(key.last_used_at),
    )


def _roles(stored: str) -> list[Role]:
    return [Role(name) for name in stored.split(",") if name]


def parse_kind(value: str) -> PrincipalKind:
    if value == "department":
        return "department"
    if value == "application":
        return "application"
    raise InvalidRequest(f"principal kind must be department or application, got {value!r}")


def _optional_utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else as_utc(moment)
