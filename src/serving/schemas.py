"""Request and response bodies of the native scoring API (``/v1/score``)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScoreRequest(BaseModel):
    """Score entities by id (features from the online store) or inline feature rows (what-if)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"entities": ["B0000001", "B0000002"], "alias": "champion"}]},
    )

    entities: list[str] | None = Field(default=None, min_length=1, description="Entity ids to score.")
    features: list[dict[str, float | str | bool | None]] | None = Field(
        default=None,
        min_length=1,
        description=(
            "Inline feature rows, feature name to number (null = missing), checked against the algorithm's "
            "inference schema: a missing or unknown feature, a value that is not a number, a null where the "
            "feature is required or a value out of its range is a 422 data_validation_failed naming each "
            "column, rule and row."
        ),
    )
    alias: str = Field(
        default="champion",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description=(
            "Registry alias (or a version number) of the model to use. With the default, champion, a canary "
            "or shadow rollout of the model's challenger applies to entity requests."
        ),
    )
    explain: bool = Field(default=False, description="Also answer the top reasons (exact per-feature contributions).")
    include_features: bool = Field(
        default=False,
        description=(
            "Also answer each row's feature values as the model saw them, in the model's feature order "
            "(null = missing): the starting point of a what-if row."
        ),
    )

    @model_validator(mode="after")
    def _exactly_one_input(self) -> Self:
        if (self.entities is None) == (self.features is None):
            raise ValueError("give exactly one of 'entities' or 'features'")
        return self


class ErrorDetail(BaseModel):
    """A machine-readable error attached to one entity of a batch."""

    code: str
    message: str


def _absent(value: object) -> bool:
    return value is None


class Reason(BaseModel):
    """One feature's contribution to a score, in words and in log-odds."""

    feature: str
    value: float | None = Field(description="The feature's value; null where missing.")
    contribution: float = Field(description="Log-odds this feature adds against the average (TreeSHAP, exact).")
    text: str = Field(description='Human-readable reason, e.g. "Sensor faults in the last 30 days: 7 (raises risk)".')


class EntityScore(BaseModel):
    """The answer for one entity or inline row."""

    entity_id: str | None = Field(description="The entity id; null for an inline feature row.")
    score: float | None = Field(description="Positive-class probability; null when the entity failed.")
    level: str | None = Field(description="Risk level from the model card's grading thresholds.")
    warning: bool | None = Field(description="True when the level raises an early warning.")
    # The optional parts are left out of the answer when absent, so models without them answer as before.
    credit_score: float | None = Field(
        default=None,
        exclude_if=_absent,
        description="The score on the model's points scale (credit_supervision: 300-900, higher better).",
    )
    inspection_frequency: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="What the level implies for random inspections, where the model card says.",
    )
    reasons: list[Reason] | None = Field(
        default=None, exclude_if=_absent, description="Top reasons, largest first, when explain=true."
    )
    features: dict[str, float | None] | None = Field(
        default=None,
        exclude_if=_absent,
        description="The feature values scored, in the model's order (null = missing), when include_features=true.",
    )
    model_version: str | None = Field(
        default=None, exclude_if=_absent, description="Under a canary: the version that answered this entity."
    )
    alias: str | None = Field(
        default=None, exclude_if=_absent, description="Under a canary: champion or challenger, whichever answered."
    )
    error: ErrorDetail | None = None


class ScoreResponse(BaseModel):
    """Scores of every requested entity, in request order, with the model that produced them."""

    algorithm: str
    model_name: str
    model_version: str = Field(description="The version the alias asked for resolved to (the champion by default).")
    alias: str
    rollout: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="canary or shadow when the model's challenger took part (absent otherwise).",
    )
    results: list[EntityScore]
