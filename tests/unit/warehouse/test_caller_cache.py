"""The identity store's cache of authenticated callers: it saves the database, never a refusal.

A change made in this process takes effect at once; one made elsewhere (written here straight to the
database, as another process would) takes effect with the next governance revision the watcher reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from warehouse import identity
from warehouse.audit import append_entry
from warehouse.db import open_metadata_db, utc_now
from warehouse.errors import Unauthenticated
from warehouse.identity import ApiKeyRecord, IdentityStore, IssuedKey, provision_caller, revoke_grant, revoke_key
from warehouse.permissions import Role
from warehouse.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "wh")


@pytest.fixture
def key(settings: Settings) -> IssuedKey:
    return provision_caller(
        settings, name="cache-app", kind="application", roles=[Role.APP], clearance="internal", grants=["fire_risk"]
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[IdentityStore]:
    store = IdentityStore(settings)
    store.note_revision(_revision(settings))
    yield store
    store.close()


def _revision(settings: Settings) -> int:
    from registry.store import governance_revision

    with open_metadata_db(settings) as db, db.session() as session:
        return governance_revision(session)


def _revoke_elsewhere(settings: Settings, key_id: str) -> None:
    """Revoke a key the way another process does: in the database, audited, without this process knowing."""
    with open_metadata_db(settings) as db, db.session() as session:
        session.execute(update(ApiKeyRecord).where(ApiKeyRecord.key_id == key_id).values(revoked_at=utc_now()))
        append_entry(session, actor="elsewhere", action="key.revoke", subject=f"key/{key_id}", detail={})


def _refusal(store: IdentityStore, token: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        store.authenticate(token)
    return refused.value.reason


def test_a_cached_caller_is_answered_without_the_database(
    store: IdentityStore, key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.authenticate(key.token)
    monkeypatch.setattr(store, "_database", lambda: pytest.fail("the cached caller read the database"))
    assert store.authenticate(key.token) == first


def test_a_wrong_secret_is_never_answered_from_the_cache(store: IdentityStore, key: IssuedKey) -> None:
    store.authenticate(key.token)
    wrong = key.token[:-1] + ("A" if key.token[-1] != "A" else "B")
    assert _refusal(store, wrong) == "wrong_secret"


def test_changes_made_in_this_process_take_effect_at_once(
    settings: Settings, store: IdentityStore, key: IssuedKey
) -> None:
    assert store.authenticate(key.token).granted_models == {"fire_risk"}
    revoke_grant(settings, principal="cache-app", model_name="fire_risk", actor="tests")
    assert store.authenticate(key.token).granted_models == frozenset()
    revoke_key(settings, key.key_id, actor="tests")
    assert _refusal(store, key.token) == "revoked"


def test_a_change_made_elsewhere_takes_effect_with_the_next_revision(
    settings: Settings, store: IdentityStore, key: IssuedKey
) -> None:
    store.authenticate(key.token)
    _revoke_elsewhere(settings, key.key_id)
    store.authenticate(key.token)  # until the watcher's next poll (about a second), the cached caller stands
    store.note_revision(_revision(settings))
    assert _refusal(store, key.token) == "revoked"


def test_without_a_recent_revision_every_call_reads_the_database(settings: Settings, key: IssuedKey) -> None:
    store = IdentityStore(settings)  # no watcher feeds it
    try:
        store.authenticate(key.token)
        _revoke_elsewhere(settings, key.key_id)
        assert _refusal(store, key.token) == "revoked"
    finally:
        store.close()


def test_a_revision_read_too_long_ago_is_not_trusted(
    settings: Settings, store: IdentityStore, key: IssuedKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.authenticate(key.token)
    _revoke_elsewhere(settings, key.key_id)
    monkeypatch.setattr(identity, "REVISION_MAX_AGE_S", -1.0)  # as if the watcher had stopped reading
    assert _refusal(store, key.token) == "revoked"


def test_an_expired_key_is_refused_although_cached(
    settings: Settings, store: IdentityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = provision_caller(
        settings, name="cache-app", roles=[Role.APP], clearance="internal", expires_in=dt.timedelta(minutes=5)
    )
    store.note_revision(_revision(settings))
    store.authenticate(short.token)
    later = utc_now() + dt.timedelta(minutes=6)
    monkeypatch.setattr(identity, "utc_now", lambda: later)
    assert _refusal(store, short.token) == "expired"


def test_the_apps_governance_watcher_feeds_the_store(settings: Settings, key: IssuedKey) -> None:
    from registry.store import GovernanceProbe
    from warehouse.api import create_app

    app = create_app(settings)
    store: IdentityStore = app.state.identity
    store.authenticate(key.token)
    assert store.cached_caller(key.token) is None  # no revision read yet: nothing is answered from memory
    probe = GovernanceProbe(settings)
    try:
        app.state.repository.refresh_governance(probe)
    finally:
        probe.close()
    store.authenticate(key.token)
    assert store.cached_caller(key.token) is not None
    store.close()
