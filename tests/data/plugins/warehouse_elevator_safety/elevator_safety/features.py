"""The ``elevators`` population, its two feature views, the ``elevator_safety`` service and generator.

Monthly snapshots (00:00 UTC on the first of the month) of each elevator's equipment profile and
maintenance record. The label at snapshot ``t`` is an entrapment in the month starting at ``t``,
so the last snapshot has none. A seed alone fixes the output.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import numpy as np
import pandas as pd

from features.definitions.specs import FeaturePackage, FeatureSpec, PopulationSpec, ServiceSpec, ViewSpec

ENTITY_KEY = "elevator_id"
LABEL = "entrapment_next_month"
DEFAULT_END_MONTH = dt.date(2026, 10, 1)

EQUIPMENT = ViewSpec(
    name="elevator_equipment",
    table="equipment",
    description="Equipment profile: age, floors served, rated load, daily trips.",
    features=(
        FeatureSpec("elevator_age_years", "float", "Years in service", 0, 80, risk_direction=1),
        FeatureSpec("floors_served", "int", "Floors served", 2, 120, risk_direction=1),
        FeatureSpec("rated_load_kg", "float", "Rated load in kg", 300, 5_000),
        FeatureSpec("daily_trips", "float", "Mean trips per day last month", 0, 5_000, risk_direction=1),
    ),
)

MAINTENANCE = ViewSpec(
    name="elevator_maintenance",
    table="maintenance",
    description="Maintenance record: days since service, recent faults, past entrapments, overdue inspection.",
    features=(
        FeatureSpec(
            "days_since_maintenance", "float", "Days since the last maintenance visit", 0, 3_650, risk_direction=1
        ),
        FeatureSpec("faults_90d", "int", "Faults reported in the last 90 days", minimum=0, risk_direction=1),
        FeatureSpec("entrapments_12m", "int", "Entrapments in the last 12 months", minimum=0, risk_direction=1),
        FeatureSpec(
            "inspection_overdue", "int", "Statutory annual inspection overdue, 1 = yes", 0, 1, risk_direction=1
        ),
    ),
)

ELEVATORS = PopulationSpec(
    name="elevators",
    entity="elevator",
    entity_key=ENTITY_KEY,
    entity_id_pattern=r"^L\d{7}$",
    entity_description="A passenger elevator under special-equipment supervision",
    label_table="labels",
    label=LABEL,
    views=(EQUIPMENT, MAINTENANCE),
    ttl=timedelta(days=120),
)

ELEVATOR_SAFETY = ServiceSpec(
    name="elevator_safety",
    description="Every elevator feature, for the entrapment probability of the next month.",
    population=ELEVATORS,
    views=ELEVATORS.views,
)


def generate_elevators(
    n_elevators: int, *, months: int = 24, seed: int, end_month: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Tables ``equipment, maintenance, labels`` of a seeded fleet."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(end_month or DEFAULT_END_MONTH).to_period("M").to_timestamp()
    stamps = pd.date_range(end=end, periods=months, freq="MS", tz="UTC").as_unit("us")
    age = rng.uniform(0, 30, n_elevators)[:, None] + np.arange(months)[None, :] / 12
    floors = np.broadcast_to(rng.integers(2, 40, n_elevators)[:, None], (n_elevators, months))
    load = np.broadcast_to(rng.choice([630.0, 800.0, 1000.0, 1600.0], n_elevators)[:, None], (n_elevators, months))
    trips = rng.gamma(4.0, 60.0, (n_elevators, months)) * (1 + floors / 40)
    days = rng.integers(0, 45, (n_elevators, months)).astype(float) + 40.0 * (rng.random((n_elevators, months)) < 0.1)
    overdue = (rng.random((n_elevators, months)) < 0.08).astype(np.int64)
    logit = -5.4 + 0.06 * age + 0.012 * days + 0.002 * trips + 0.9 * overdue
    faults = rng.poisson(np.exp(logit + 4.0))
    entrapped = rng.random((n_elevators, months)) < 1 / (1 + np.exp(-(logit + 0.25 * faults)))
    # Entrapments in the 12 months before each snapshot (the snapshot's own month is the label's).
    before = np.pad(np.cumsum(entrapped, axis=1), ((0, 0), (1, 0)))
    earlier = before[:, np.maximum(np.arange(months) - 12, 0)]
    ids = [f"L{number:07d}" for number in range(1, n_elevators + 1)]
    equipment = {"elevator_age_years": age, "floors_served": floors, "rated_load_kg": load, "daily_trips": trips}
    maintenance = {
        "days_since_maintenance": days,
        "faults_90d": faults,
        "entrapments_12m": before[:, :months] - earlier,
        "inspection_overdue": overdue,
    }
    return {
        "equipment": _frame(ids, stamps, equipment),
        "maintenance": _frame(ids, stamps, maintenance),
        "labels": _frame(ids, stamps[:-1], {LABEL: entrapped[:, :-1].astype(np.int64)}),
    }


def _frame(ids: list[str], stamps: pd.DatetimeIndex, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per elevator and snapshot: key, timestamp, then the columns (elevators x months each)."""
    months = len(stamps)
    frame = pd.DataFrame(
        {ENTITY_KEY: np.repeat(ids, months), "event_timestamp": stamps[np.tile(np.arange(months), len(ids))]}
    )
    for name, values in columns.items():
        frame[name] = np.ascontiguousarray(values[:, :months]).reshape(-1)
    return frame


ELEVATOR_FEATURES = FeaturePackage(population=ELEVATORS, services=(ELEVATOR_SAFETY,), generator=generate_elevators)
"""What the ``warehouse.features`` entry point names."""
