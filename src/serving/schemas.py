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
    features: list[dict[str, float | None]] | None = Field(
        default=None, min_length=1, description="Inline feature rows, feature name to value (null = missing)."
    )
    alias: str = Field(
        default="champion",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Registry alias (or a version number) of the model to use.",
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


class EntityScore(BaseModel):
    """The answer for one entity or inline row."""

    entity_id: str | None = Field(description="The entity id; null for an inline feature row.")
    score: float | None = Field(description="Positive-class probability; null when the entity failed.")
    level: str | None = Field(description="Risk level from the model card's grading thresholds.")
    warning: bool | None = Field(description="True when the level raises an early warning.")
    error: ErrorDetail | None = None


class ScoreResponse(BaseModel):
    """Scores of every requested entity, in request order, with the model that produced them."""

    algorithm: str
    model_name: str
    model_version: str
    alias: str
    results: list[EntityScore]
