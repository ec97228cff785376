"""Roles and permissions: the one table saying which role may do what over HTTP.

Every route declares exactly one :class:`Permission` (``Depends(require(Permission.X))`` from
:mod:`warehouse.auth`); a caller holds the union of its roles' permissions. Classification and
grants are checked on top of this, per model, where the model is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """What a principal (a department or an application) is for."""

    SCIENTIST = "scientist"
    """Trains models and sends them to review; may try them out."""
    REVIEWER = "reviewer"
    """Approves or rejects versions, moves aliases, suspends, acts on alerts, draws inspection lists."""
    ADMIN = "admin"
    """Everything, including jobs and delisting."""
    APP = "app"
    """A topic application: scores with the models granted to it, nothing else."""
    AUDITOR = "auditor"
    """Reads the audit chain, models, jobs, runs, alerts and inspection draws; changes nothing."""


class Permission(StrEnum):
    """What one route allows."""

    SCORE = "score"
    SERVER_READ = "server.read"
    METRICS_READ = "metrics.read"
    MODELS_READ = "models.read"
    MODELS_SUBMIT = "models.submit"
    MODELS_APPROVE = "models.approve"
    """Approve or reject a version in review."""
    MODELS_PROMOTE = "models.promote"
    """Point an alias at a version, or roll it back."""
    MODELS_SUSPEND = "models.suspend"
    """Suspend or reinstate a version."""
    MODELS_DELIST = "models.delist"
    MODELS_EXCHANGE = "models.exchange"
    """Export a version as a signed bundle, or import one signed by a trusted node."""
    AUDIT_READ = "audit.read"
    JOBS_READ = "jobs.read"
    """Jobs and their runs."""
    JOBS_MANAGE = "jobs.manage"
    ALERTS_READ = "alerts.read"
    ALERTS_ACT = "alerts.act"
    INSPECTIONS_READ = "inspections.read"
    """Recorded "双随机" inspection draws and their lists of entities to inspect."""
    INSPECTIONS_DRAW = "inspections.draw"
    """Draw (and so record and audit) an inspection list from a finished credit-supervision run.

    Supervisory, like acting on alerts: reviewers and admins. A list names who will be inspected,
    which must not reach the inspected in advance, so scientists (who read jobs and runs) do not
    read draws; auditors do."""
    IDENTITY_READ = "identity.read"
    """List principals, their grants and their keys (never a secret)."""
    IDENTITY_MANAGE = "identity.manage"
    """Create principals, issue and revoke keys, grant and withdraw models."""


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SCIENTIST: frozenset({P.SCORE, P.SERVER_READ, P.MODELS_READ, P.MODELS_SUBMIT, P.JOBS_READ}),
    Role.REVIEWER: frozenset(
        {
            P.SERVER_READ,
            P.MODELS_READ,
            P.MODELS_APPROVE,
            P.MODELS_PROMOTE,
            P.MODELS_SUSPEND,
            P.JOBS_READ,
            P.ALERTS_READ,
            P.ALERTS_ACT,
            P.INSPECTIONS_READ,
            P.INSPECTIONS_DRAW,
        }
    ),
    Role.ADMIN: frozenset(Permission),
    Role.APP: frozenset({P.SCORE, P.SERVER_READ}),
    Role.AUDITOR: frozenset(
        {
            P.SERVER_READ,
            P.METRICS_READ,
            P.MODELS_READ,
            P.AUDIT_READ,
            P.JOBS_READ,
            P.ALERTS_READ,
            P.INSPECTIONS_READ,
            P.IDENTITY_READ,
        }
    ),
}
"""Role -> the permissions it grants. The only place where this is decided."""


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    """Every permission that at least one of ``roles`` grants."""
    return frozenset().union(*(ROLE_PERMISSIONS[role] for role in roles))
