"""The warehouse's one exception hierarchy.

Each error carries a stable snake_case ``code`` (never changed once shipped) and the HTTP ``status``
it maps to. The API renders every one as ``{"error": {"code": ..., "message": ...}}``; the CLI prints
the message and exits 1. Domain code raises these, never ``HTTPException``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class WarehouseError(Exception):
    """Base of every error the warehouse raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_body(self) -> dict[str, dict[str, Any]]:
        """The JSON error body served over HTTP."""
        return {"error": {"code": self.code, "message": self.message}}


class ConfigurationError(WarehouseError):
    """Settings or a config file are invalid or incomplete."""

    status = 500
    code = "configuration_error"


class InvalidRequest(WarehouseError):
    """The request is well-formed JSON but asks for something impossible."""

    status = 422
    code = "invalid_request"


class DataValidationError(WarehouseError):
    """A DataFrame or inference input crossing a module boundary failed its pandera schema.

    ``failures`` lists the failed rules as data (``column``, ``rule``, ``count``, ``examples`` of
    ``{row, value}``); the body carries them next to code and message when there are any.
    """

    status = 422
    code = "data_validation_failed"

    def __init__(self, message: str, *, failures: Sequence[Mapping[str, object]] = ()) -> None:
        super().__init__(message)
        self.failures = [dict(failure) for failure in failures]

    def to_body(self) -> dict[str, dict[str, Any]]:
        """Code and message, and the failed rules when known."""
        body = super().to_body()
        if self.failures:
            body["error"]["failures"] = self.failures
        return body


class NotFound(WarehouseError):
    """Base of the 404s."""

    status = 404
    code = "not_found"


class AlgorithmNotFound(NotFound):
    """No algorithm of that name is installed."""

    code = "algorithm_not_found"


class ModelNotFound(NotFound):
    """No registered model, version or alias of that name."""

    code = "model_not_found"


class EntityNotFound(NotFound):
    """The online store holds no features for an entity id."""

    code = "entity_not_found"


class DatasetNotFound(NotFound):
    """A dataset the step needs has not been generated or ingested yet."""

    code = "dataset_not_found"


class Conflict(WarehouseError):
    """Base of the 409s: the request clashes with the current state."""

    status = 409
    code = "conflict"


class InvalidLifecycleTransition(Conflict):
    """The model version's lifecycle state does not allow the requested step."""

    code = "invalid_lifecycle_transition"


class TwoPersonRuleViolation(Conflict):
    """The approver of a model version is the person who submitted it."""

    code = "two_person_rule_violation"


class ModelNotApproved(Conflict):
    """The model version is not approved or published, so it cannot hold an alias or be served."""

    code = "model_not_approved"


class ChallengerMissing(Conflict):
    """A canary or shadow rollout was asked of a model that has no ``challenger`` alias."""

    code = "challenger_missing"


class ModelCardIncomplete(WarehouseError):
    """The model card lacks fields that review and approval require."""

    status = 422
    code = "model_card_incomplete"


class ModelNotReady(WarehouseError):
    """The model exists but is not loaded in this server yet."""

    status = 503
    code = "model_not_ready"


class ModelIntegrityError(WarehouseError):
    """A model artifact failed a consistency check (ONNX parity, digest)."""

    status = 500
    code = "model_integrity_error"


class ExplanationUnavailable(Conflict):
    """Reasons were asked of a model version logged without an explainer."""

    code = "explanation_unavailable"


class BundleInvalid(WarehouseError):
    """A model bundle is malformed: not a bundle, an unsafe or unexpected member, an unreadable manifest."""

    status = 422
    code = "bundle_invalid"


class BundleTampered(WarehouseError):
    """A model bundle's signature or a member's SM3 digest does not verify."""

    status = 422
    code = "bundle_tampered"


class UntrustedNode(WarehouseError):
    """A model bundle was signed by a node whose public key this node does not trust."""

    status = 422
    code = "untrusted_node"


class AccessDenied(WarehouseError):
    """Base of the refusals of a caller; the app appends every one to the audit chain.

    ``actor`` (the principal when known), ``reason`` and ``key_id`` go to the audit entry, never to
    the caller: the body only says ``unauthenticated`` or ``forbidden``.
    """

    status = 403
    code = "access_denied"

    def __init__(self, message: str, *, actor: str = "anonymous", reason: str = "", key_id: str | None = None) -> None:
        super().__init__(message)
        self.actor, self.reason, self.key_id = actor, reason, key_id


class Unauthenticated(AccessDenied):
    """No API key, or one that is unknown, wrong, revoked, expired or of a disabled principal."""

    status = 401
    code = "unauthenticated"


class Forbidden(AccessDenied):
    """The caller is known but its roles, clearance or grants do not allow the request."""

    status = 403
    code = "forbidden"


class PrincipalNotFound(NotFound):
    """No principal (department or application) of that name."""

    code = "principal_not_found"


class ApiKeyNotFound(NotFound):
    """No API key with that key id."""

    code = "api_key_not_found"


class PrincipalExists(Conflict):
    """A principal of that name already exists."""

    code = "principal_exists"


class InvalidTensor(WarehouseError):
    """An Open Inference Protocol tensor has the wrong name, shape, datatype or data."""

    status = 400
    code = "invalid_tensor"


class PayloadTooLarge(WarehouseError):
    """The request body is larger than the server accepts."""

    status = 413
    code = "payload_too_large"


class RequestTimeout(WarehouseError):
    """The request took longer than the server's time limit."""

    status = 504
    code = "request_timeout"
