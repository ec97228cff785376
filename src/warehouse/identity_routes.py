"""Principals, API keys and model grants over HTTP (``/v1/principals``, ``/v1/keys``), for admins.

Reading (``identity.read``: admin, auditor) lists principals with their grants and keys, never a
secret. Managing (``identity.manage``: admin) creates principals, issues a key (its token is in the
201 answer, the only time it is ever shown, sent with ``Cache-Control: no-store``), revokes a key,
and grants or withdraws a model. The acting principal is the caller's, and every change is in the
audit chain, as from the ``warehouse principals`` and ``warehouse keys`` commands.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from warehouse.app_state import SettingsDep
from warehouse.auth import require
from warehouse.identity import (
    Caller,
    IssuedKey,
    KeyView,
    PrincipalKind,
    PrincipalView,
    add_principal,
    create_key,
    get_principal,
    grant_model,
    list_keys,
    list_principals,
    revoke_grant,
    revoke_key,
)
from warehouse.permissions import Permission, Role
from warehouse.security import ClassificationLevel

router = APIRouter(tags=["identity"])
MAX_KEY_LIFETIME_DAYS = 3660


Reader = Annotated[Caller, Depends(require(Permission.IDENTITY_READ))]
Manager = Annotated[Caller, Depends(require(Permission.IDENTITY_MANAGE))]
PrincipalName = Annotated[str, Path(max_length=200)]
ModelName = Annotated[str, Path(max_length=200)]


class NewPrincipal(BaseModel):
    """A department or application to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    kind: PrincipalKind
    roles: list[Role] = Field(min_length=1)
    clearance: ClassificationLevel


class NewKey(BaseModel):
    """How long a new key is valid (omitted: until revoked)."""

    model_config = ConfigDict(extra="forbid")

    expires_in_days: float | None = Field(default=None, gt=0, le=MAX_KEY_LIFETIME_DAYS)


@router.get("/v1/principals")
def principals_index(settings: SettingsDep, _caller: Reader) -> list[PrincipalView]:
    """Every principal with its roles, clearance and grants, by name."""
    return list_principals(settings)


@router.post("/v1/principals", status_code=201)
def principals_create(settings: SettingsDep, caller: Manager, body: NewPrincipal) -> PrincipalView:
    """Create a principal (409 ``principal_exists`` if the name is taken); it has no key yet."""
    return add_principal(
        settings, name=body.name, kind=body.kind, roles=body.roles, clearance=body.clearance, actor=caller.principal
    )


@router.get("/v1/principals/{name}/keys")
def principal_keys(settings: SettingsDep, _caller: Reader, name: PrincipalName) -> list[KeyView]:
    """The principal's keys, newest first: ids, expiry, revocation, last use; never a secret."""
    get_principal(settings, name)  # 404 for an unknown principal rather than an empty list
    return list_keys(settings, principal=name)


@router.post("/v1/principals/{name}/keys", status_code=201)
def principal_key_create(
    settings: SettingsDep, caller: Manager, name: PrincipalName, body: NewKey, response: Response
) -> IssuedKey:
    """Issue a key; ``token`` in this answer is the only time its secret is shown (only its salted hash is kept)."""
    expires_in = None if body.expires_in_days is None else dt.timedelta(days=body.expires_in_days)
    response.headers["Cache-Control"] = "no-store"
    return create_key(settings, principal=name, actor=caller.principal, expires_in=expires_in)


@router.delete("/v1/keys/{key_id}")
def key_revoke(settings: SettingsDep, caller: Manager, key_id: Annotated[str, Path(max_length=64)]) -> KeyView:
    """Revoke a key for good (revoking it again changes nothing)."""
    return revoke_key(settings, key_id, actor=caller.principal)


@router.put("/v1/principals/{name}/grants/{model_name}")
def grant_add(settings: SettingsDep, caller: Manager, name: PrincipalName, model_name: ModelName) -> PrincipalView:
    """Let the principal (an application) reach the model (idempotent)."""
    return grant_model(settings, principal=name, model_name=model_name, actor=caller.principal)


@router.delete("/v1/principals/{name}/grants/{model_name}")
def grant_remove(settings: SettingsDep, caller: Manager, name: PrincipalName, model_name: ModelName) -> PrincipalView:
    """Withdraw a grant (idempotent)."""
    return revoke_grant(settings, principal=name, model_name=model_name, actor=caller.principal)
