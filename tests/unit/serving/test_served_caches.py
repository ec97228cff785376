"""What the scoring path caches per served version and model is read once and forgotten by hot reload.

Classification levels and rollouts change only through audited steps, which move the governance
revision; the repository's watcher pass clears both caches when it sees the revision move.
"""

from __future__ import annotations

from registry.rollout import RolloutMode, set_rollout
from registry.store import GovernanceProbe
from serving.repository import ModelRepository
from tests.unit.warehouse.identity_contract import seed_governed_version
from warehouse.settings import Settings


def test_levels_and_rollouts_are_cached_until_governance_moves(settings: Settings) -> None:
    repository = ModelRepository(settings)
    probe = GovernanceProbe(settings)
    try:
        repository.refresh_governance(probe)
        before = (repository.classifications.of_model("fire_risk"), repository.classifications.of("fire_risk", "1"))
        first_rollout = repository.rollout("fire_risk")
        # A restricted version written behind governance's back (no audit entry): the caches do not see it.
        seed_governed_version(settings, version="7", state="registered", classification="restricted")
        cached = repository.classifications.of_model("fire_risk")
        unchanged = repository.refresh_governance(probe)
        set_rollout(settings, model_name="fire_risk", mode=RolloutMode.OFF, actor="ops", reason="audited")
        moved = repository.refresh_governance(probe)
        after = (repository.classifications.of_model("fire_risk"), repository.classifications.of("fire_risk", "1"))
        second_rollout = repository.rollout("fire_risk")
    finally:
        probe.close()

    assert before == ("internal", "internal")
    assert (first_rollout.mode, first_rollout.actor) == (RolloutMode.OFF, None)
    assert cached == "internal" and not unchanged  # no revision move: served from the cache
    assert moved and after == ("restricted", "internal")  # the model's level now counts the restricted card
    assert (second_rollout.mode, second_rollout.actor, second_rollout.reason) == (RolloutMode.OFF, "ops", "audited")
