"""Which model answers an entity: the alias asked for, or the challenger under a canary or shadow rollout.

A :class:`TrafficPlan` is made per request by :meth:`serving.scoring.ScoringService.plan`. Under a
canary, an entity goes to the challenger when :func:`canary_bucket` of (model name, entity id) falls
under the share. The bucket is a SHA-256 of that key, not Python's ``hash()`` (salted per process),
so the same entity lands on the same arm on every node, every replica and both engines, and stays
there while the share does not shrink below its bucket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from registry.rollout import RolloutMode

if TYPE_CHECKING:
    from serving.runtime import OnnxModel

BUCKET_BYTES = 8
"""Leading digest bytes that make the bucket (2**64 buckets: shares are exact to far below 1e-9)."""


def canary_bucket(model_name: str, entity_id: str) -> float:
    """Where an entity falls in [0, 1) for ``model_name``'s canary: stable everywhere, uniform over entities."""
    digest = hashlib.sha256(f"{model_name}\x1f{entity_id}".encode()).digest()
    return int.from_bytes(digest[:BUCKET_BYTES], "big") / float(1 << (8 * BUCKET_BYTES))


@dataclass(frozen=True)
class TrafficPlan:
    """The models a request may use: the alias asked for and, under a rollout, the challenger."""

    alias: str
    champion: OnnxModel
    mode: RolloutMode = RolloutMode.OFF
    challenger: OnnxModel | None = None
    canary_share: float = 0.0

    @property
    def model_name(self) -> str:
        """The registered model both arms belong to."""
        return self.champion.metadata.model_name

    def without_challenger(self) -> TrafficPlan:
        """The same request answered by the alias asked for alone."""
        return replace(self, mode=RolloutMode.OFF, challenger=None, canary_share=0.0)

    def goes_to_challenger(self, entity_id: str) -> bool:
        """True when the canary sends this entity to the challenger."""
        return (
            self.mode == RolloutMode.CANARY
            and self.challenger is not None
            and canary_bucket(self.model_name, entity_id) < self.canary_share
        )
