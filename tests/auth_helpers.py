"""API keys for tests: a principal with the given roles, and the ``Authorization`` header of its key.

Use :func:`caller_headers` where a test has its own ``Settings``; the fixtures ``auth_headers``
(a factory) and ``admin_headers`` in ``tests/conftest.py`` do the same over the ``settings`` fixture.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from warehouse.identity import PrincipalKind, provision_caller
from warehouse.permissions import Role
from warehouse.security import ClassificationLevel
from warehouse.settings import Settings


def bearer(token: str) -> dict[str, str]:
    """The header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def caller_headers(
    settings: Settings,
    *roles: str,
    clearance: ClassificationLevel = "restricted",
    kind: PrincipalKind | None = None,
    grants: Sequence[str] = (),
    name: str | None = None,
    expires_in: dt.timedelta | None = None,
) -> dict[str, str]:
    """Headers of a fresh key of principal ``name`` (default: made up from the roles), created if missing.

    An ``app`` principal is an application and is granted ``grants`` (give the models it may score).
    """
    role_list = [Role(role) for role in roles] or [Role.ADMIN]
    is_app = Role.APP in role_list
    key = provision_caller(
        settings,
        name=name or f"{'-'.join(role_list)}-{uuid.uuid4().hex[:8]}",
        roles=role_list,
        clearance=clearance,
        kind=kind or ("application" if is_app else "department"),
        grants=grants,
        expires_in=expires_in,
        actor="tests",
    )
    return bearer(key.token)
