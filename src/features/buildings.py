"""Seeded synthetic population of buildings for the ``fire_risk`` algorithm.

Models buildings and key fire-safety units (消防安全重点单位) in the Pearl River Delta of Guangdong:
a static-ish profile, monthly IoT monitoring of fire facilities, fire inspections, incident history
and district weather, all observed as monthly snapshots. A latent hazard (building management
quality, an autocorrelated monthly shock, hot and dry weather, electrical overload, open
violations) drives incidents at a base rate of about 2 % per building-month; incidents are recorded
with noise (some go unreported, a few records are spurious).

Time: snapshot ``t`` is stamped at 00:00 UTC on the first day of a month and summarises the calendar
month that just ended (``*_30d`` windows, that month's weather) and everything before it. The label
``incident_next_month`` at ``t`` is the recorded incident in the month that starts at ``t``, so the
last snapshot has no label. A feature at ``t`` is computed from draws of months up to ``t`` only:
the simulation walks forward one month at a time and never looks ahead.

This module is pure numpy and pandas: it writes nothing and imports no feature store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ENTITY_KEY = "building_id"
TIMESTAMP = "event_timestamp"
LABEL = "incident_next_month"
DEFAULT_END_MONTH = dt.date(2026, 10, 1)
"""Month of the last snapshot when none is given (fixed, so that a seed alone fixes the output)."""
BURN_IN_MONTHS = 12
"""Months simulated before the first snapshot, so that 12-month windows start full."""

# Administrative codes of districts in Guangzhou, Shenzhen, Foshan and Dongguan.
DISTRICT_CODES = np.array(
    [
        *(440103, 440104, 440105, 440106, 440111, 440112, 440113),
        *(440303, 440304, 440305, 440306, 440307),
        *(440604, 440605, 440606),
        441900,
    ]
)
# Old town centres (Liwan, Yuexiu, Luohu, Chancheng) hold older building stock.
DISTRICT_EXTRA_AGE_YEARS = np.array([14, 14, 6, 2, 4, 0, 0, 10, 4, 0, 0, 0, 10, 4, 4, 2], dtype=float)

USE_TYPES = ("residential", "commercial", "industrial", "public_assembly", "warehouse", "mixed_use")
USE_TYPE_SHARES = np.array([0.45, 0.18, 0.12, 0.07, 0.08, 0.10])
USE_FLAG_COLUMNS = ("is_residential", "is_commercial", "is_industrial", "is_public_assembly", "is_warehouse")
# Per use type, in USE_TYPES order.
MEDIAN_FLOORS = np.array([12.0, 8.0, 3.0, 3.0, 2.0, 10.0])
STOREY_HEIGHT_M = np.array([3.0, 4.2, 6.0, 5.0, 7.0, 3.6])
MEDIAN_FOOTPRINT_M2 = np.array([700.0, 1500.0, 3000.0, 2500.0, 4000.0, 1000.0])
BASE_OCCUPANCY = np.array([0.88, 0.72, 0.65, 0.45, 0.55, 0.80])
BASE_LOAD_RATIO = np.array([0.45, 0.55, 0.66, 0.50, 0.40, 0.55])
USE_TYPE_RISK = np.array([0.0, 0.45, 0.90, 0.50, 1.00, 0.55])

HAZARD_INTERCEPT = -5.85
"""Logit of the monthly incident probability of an average building; tuned for a ~2 % base rate."""
# Label noise: some incidents go unreported, a few records are spurious.
RECORDED_IF_INCIDENT = 0.90
RECORDED_IF_NO_INCIDENT = 0.001
SHOCK_PERSISTENCE = 0.6
"""AR(1) coefficient of the unobserved monthly hazard shock (wiring, storage, hot work)."""


@dataclass(frozen=True)
class _Profile:
    """What does not change month to month, plus the latent traits no feature shows directly."""

    district: np.ndarray
    use: np.ndarray
    age_years: np.ndarray
    floors: np.ndarray
    height_m: np.ndarray
    floor_area_m2: np.ndarray
    is_high_rise: np.ndarray
    is_key_unit: np.ndarray
    has_meter: np.ndarray
    sensor_from_month: np.ndarray
    # Poor fire-safety management: raises hazard, faults and violations alike; no feature shows it.
    frailty: np.ndarray
    occupancy_level: np.ndarray
    load_level: np.ndarray
    structural_logit: np.ndarray


@dataclass
class _State:
    """What the simulation carries from one month to the next."""

    sprinkler: np.ndarray
    shock: np.ndarray
    days_since_inspection: np.ndarray
    open_violations: np.ndarray
    last_hazard_score: np.ndarray
    violations_by_month: list[np.ndarray]
    incidents_by_month: list[np.ndarray]
    incidents_total: np.ndarray


@dataclass
class _Month:
    """Draws of one simulated month, indexed by building."""

    weather: dict[str, np.ndarray]
    occupancy: np.ndarray
    load_ratio: np.ndarray
    recorded_incident: np.ndarray
    monitoring: dict[str, np.ndarray] = field(default_factory=dict)


def _draw_geometry(rng: np.random.Generator, use: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = use.size
    floors = np.clip(np.round(MEDIAN_FLOORS[use] * rng.lognormal(0.0, 0.6, n)), 1, 80).astype(np.int64)
    height_m = np.round(floors * STOREY_HEIGHT_M[use] + rng.uniform(0.5, 3.0, n), 1)
    footprint = MEDIAN_FOOTPRINT_M2[use] * rng.lognormal(0.0, 0.5, n)
    floor_area_m2 = np.round(footprint * floors, 1)
    return floors, height_m, floor_area_m2


def _draw_profile(rng: np.random.Generator, n: int) -> _Profile:
    district = rng.integers(0, DISTRICT_CODES.size, n)
    use = rng.choice(len(USE_TYPES), size=n, p=USE_TYPE_SHARES)
    age_years = np.clip(rng.gamma(2.0, 8.0, n) + DISTRICT_EXTRA_AGE_YEARS[district], 0.5, 80.0)
    floors, height_m, floor_area_m2 = _draw_geometry(rng, use)
    is_high_rise = np.where(use == 0, height_m > 27.0, height_m > 24.0)
    is_key_unit = (
        ((use == 3) & (floor_area_m2 > 2_000))
        | (is_high_rise & np.isin(use, (1, 5)) & (floor_area_m2 > 20_000))
        | (np.isin(use, (2, 4)) & (floor_area_m2 > 30_000))
        | (rng.random(n) < 0.03)
    )
    installed_early = rng.integers(-BURN_IN_MONTHS - 24, 18, n)
    installed_late = np.where(rng.random(n) < 0.55, rng.integers(-BURN_IN_MONTHS - 24, 30, n), 10_000)
    frailty = rng.normal(0.0, 0.9, n)
    district_effect = rng.normal(0.0, 0.25, DISTRICT_CODES.size)[district]
    structural_logit = (
        USE_TYPE_RISK[use]
        + 0.018 * (age_years - 20.0)
        + 0.15 * np.log(floor_area_m2 / 5_000.0)
        + 0.25 * is_high_rise
        + district_effect
    )
    return _Profile(
        district=district,
        use=use,
        age_years=age_years,
        floors=floors,
        height_m=height_m,
        floor_area_m2=floor_area_m2,
        is_high_rise=is_high_rise,
        is_key_unit=is_key_unit,
        has_meter=rng.random(n) < 0.7,
        sensor_from_month=np.where(is_key_unit, installed_early, installed_late),
        frailty=frailty,
        occupancy_level=rng.normal(0.0, 0.08, n),
        load_level=rng.normal(0.0, 0.10, n),
        structural_logit=structural_logit,
    )


def _initial_state(rng: np.random.Generator, profile: _Profile) -> _State:
    n = profile.use.size
    newer = np.clip(1.0 - profile.age_years / 40.0, 0.0, 1.0)
    p_sprinkler = np.clip(0.15 + 0.55 * newer + 0.5 * profile.is_high_rise + 0.3 * profile.is_key_unit, 0.0, 0.97)
    scores = 100.0 / (1.0 + np.exp(-(profile.structural_logit + profile.frailty + rng.normal(0.0, 0.5, n))))
    return _State(
        sprinkler=rng.random(n) < p_sprinkler,
        shock=rng.normal(0.0, 0.55, n),
        days_since_inspection=rng.integers(0, 400, n),
        open_violations=rng.poisson(0.5 * np.exp(profile.frailty)),
        last_hazard_score=np.where(rng.random(n) < 0.7, scores, np.nan),
        violations_by_month=[np.zeros(n, dtype=np.int64) for _ in range(12)],
        incidents_by_month=[np.zeros(n, dtype=np.int64) for _ in range(12)],
        incidents_total=rng.poisson(0.01 * profile.age_years * np.exp(profile.frailty)),
    )


def _draw_weather(rng: np.random.Generator, month_of_year: int) -> dict[str, np.ndarray]:
    """District weather of one month; Guangdong: hot wet summers, dry winters, typhoons Jul-Sep."""
    k = DISTRICT_CODES.size
    season = np.cos(2.0 * np.pi * (month_of_year - 7) / 12.0)
    typhoon = (7 <= month_of_year <= 9) & (rng.random(k) < 0.35)
    return {
        "max_temp_c": np.round(28.0 + 6.5 * season + rng.normal(0.0, 1.2, k), 1),
        "mean_humidity_pct": np.round(np.clip(76.0 + 8.0 * season + rng.normal(0.0, 3.0, k), 40.0, 98.0), 1),
        "dry_days": np.clip(np.round(12.0 - 7.0 * season + rng.normal(0.0, 3.0, k)), 0, 28).astype(np.int64),
        "max_wind_speed_ms": np.round(5.0 + np.abs(rng.normal(0.0, 1.5, k)) + typhoon * rng.gamma(4.0, 4.0, k), 1),
    }


def _hazard_logit(profile: _Profile, state: _State, month: _Month) -> np.ndarray:
    """Log-odds of an incident this month; inputs partly hidden from every feature."""
    weather = {name: values[profile.district] for name, values in month.weather.items()}
    overload = np.maximum(np.nan_to_num(month.load_ratio, nan=0.6) - 0.8, 0.0)
    score = np.nan_to_num(state.last_hazard_score, nan=50.0)
    logit: np.ndarray = (
        HAZARD_INTERCEPT
        + profile.structural_logit
        + profile.frailty
        + 0.7 * state.shock
        + 0.40 * np.log1p(state.open_violations)
        + 0.010 * (score - 50.0)
        + 3.0 * overload
        + 0.8 * ~state.sprinkler
        + 0.6 * (month.occupancy - 0.7)
        + 0.05 * (weather["dry_days"] - 12.0)
        + 0.04 * (weather["max_temp_c"] - 28.0)
    )
    return logit


def _draw_usage(
    rng: np.random.Generator, profile: _Profile, month_of_year: int, max_temp_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = profile.use.size
    # Factories and shops empty out over the Spring Festival.
    holiday_dip = 0.2 * ((month_of_year == 2) & np.isin(profile.use, (1, 2)))
    occupancy = BASE_OCCUPANCY[profile.use] + profile.occupancy_level - holiday_dip + rng.normal(0.0, 0.04, n)
    load = BASE_LOAD_RATIO[profile.use] + profile.load_level + 0.012 * (max_temp_c[profile.district] - 28.0)
    load = np.clip(load + rng.normal(0.0, 0.06, n), 0.05, 1.6)
    return np.round(np.clip(occupancy, 0.0, 1.0), 3), np.round(np.where(profile.has_meter, load, np.nan), 3)


def _draw_monitoring(
    rng: np.random.Generator, profile: _Profile, state: _State, month: _Month, month_index: int
) -> None:
    """IoT fire-facility monitoring of the month; NaN where no sensors were installed yet."""
    n = profile.use.size
    faults = rng.poisson(np.exp(-1.0 + 0.7 * profile.frailty + 0.35 * state.shock + 0.01 * profile.age_years))
    offline_hours = np.where(faults > 0, rng.gamma(np.maximum(faults, 1), 8.0, n), 0.0)
    false_alarms = rng.poisson(0.3 + 0.45 * faults + 0.2 * (profile.use == 2))
    true_alarms = rng.poisson(0.15 * np.exp(0.8 * state.shock + 0.5 * profile.frailty)) + month.recorded_incident
    installed = profile.sensor_from_month <= month_index
    values = {
        "sensor_faults_30d": faults,
        "alarms_30d": false_alarms + true_alarms,
        "false_alarms_30d": false_alarms,
        "facility_offline_hours_30d": np.round(offline_hours, 1),
    }
    month.monitoring = {name: np.where(installed, v, np.nan).astype(float) for name, v in values.items()}


def _inspect(rng: np.random.Generator, profile: _Profile, state: _State, month: _Month, days_in_month: int) -> None:
    """Inspections of the month; an incident makes an inspection in the same month likely."""
    n = profile.use.size
    p_inspect = np.clip(np.where(profile.is_key_unit, 0.30, 0.06) + 0.6 * month.recorded_incident, 0.0, 0.95)
    inspected = rng.random(n) < p_inspect
    risk = profile.structural_logit + profile.frailty + 0.5 * state.shock + 0.15 * state.open_violations
    score = np.round(100.0 / (1.0 + np.exp(-(risk + rng.normal(0.0, 0.5, n)))), 1)
    new_violations = np.where(inspected, rng.poisson(np.exp(0.2 + 0.8 * profile.frailty + 0.4 * state.shock)), 0)
    days_since = rng.integers(0, days_in_month, n)
    state.open_violations = rng.binomial(state.open_violations, 0.7) + new_violations
    state.violations_by_month = [*state.violations_by_month[1:], new_violations]
    state.last_hazard_score = np.where(inspected, score, state.last_hazard_score)
    state.days_since_inspection = np.where(inspected, days_since, state.days_since_inspection + days_in_month)


def _advance(
    rng: np.random.Generator, profile: _Profile, state: _State, month_start: pd.Timestamp, month_index: int
) -> _Month:
    """Simulate the calendar month starting at ``month_start`` and update the carried state."""
    n = profile.use.size
    month_of_year = month_start.month
    weather = _draw_weather(rng, month_of_year)
    state.shock = SHOCK_PERSISTENCE * state.shock + rng.normal(0.0, 0.55, n)
    occupancy, load_ratio = _draw_usage(rng, profile, month_of_year, weather["max_temp_c"])
    month = _Month(weather=weather, occupancy=occupancy, load_ratio=load_ratio, recorded_incident=np.zeros(n))
    p_incident = 1.0 / (1.0 + np.exp(-_hazard_logit(profile, state, month)))
    incident = rng.random(n) < p_incident
    recorded = rng.random(n) < np.where(incident, RECORDED_IF_INCIDENT, RECORDED_IF_NO_INCIDENT)
    month.recorded_incident = recorded.astype(np.int64)
    _draw_monitoring(rng, profile, state, month, month_index)
    _inspect(rng, profile, state, month, month_start.days_in_month)
    state.incidents_by_month = [*state.incidents_by_month[1:], month.recorded_incident]
    state.incidents_total = state.incidents_total + month.recorded_incident
    retrofit = rng.random(n) < np.where(profile.is_high_rise | profile.is_key_unit, 0.004, 0.001)
    state.sprinkler = state.sprinkler | retrofit
    return month


def _profile_columns(profile: _Profile, state: _State, years_elapsed: float) -> dict[str, np.ndarray]:
    flags = {name: (profile.use == code).astype(np.int64) for code, name in enumerate(USE_FLAG_COLUMNS)}
    return {
        "building_age_years": np.round(profile.age_years + years_elapsed, 2),
        "use_type_code": profile.use.astype(np.int64),
        **flags,
        "floor_area_m2": profile.floor_area_m2,
        "floors": profile.floors,
        "height_m": profile.height_m,
        "district_code": DISTRICT_CODES[profile.district].astype(np.int64),
        "has_sprinkler": state.sprinkler.astype(np.int64),
        "is_high_rise": profile.is_high_rise.astype(np.int64),
        "is_key_fire_unit": profile.is_key_unit.astype(np.int64),
    }


def _snapshot(
    profile: _Profile, state: _State, month: _Month, years_elapsed: float
) -> dict[str, dict[str, np.ndarray]]:
    """Every feature table's columns as observed at the end of ``month``."""
    return {
        "profile": _profile_columns(profile, state, years_elapsed),
        "monitoring": {
            "occupancy_rate": month.occupancy,
            **month.monitoring,
            "electrical_load_ratio": month.load_ratio,
        },
        "inspection": {
            "days_since_inspection": state.days_since_inspection.astype(np.int64),
            "open_violations": state.open_violations.astype(np.int64),
            "violations_12m": np.sum(state.violations_by_month, axis=0).astype(np.int64),
            "last_inspection_hazard_score": state.last_hazard_score,
        },
        "history": {
            "incidents_12m": np.sum(state.incidents_by_month, axis=0).astype(np.int64),
            "incidents_total": state.incidents_total.astype(np.int64),
        },
        "weather": {name: values[profile.district] for name, values in month.weather.items()},
    }


def _frame(building_ids: np.ndarray, stamps: pd.DatetimeIndex, columns: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    n = building_ids.size
    data: dict[str, object] = {
        ENTITY_KEY: np.tile(building_ids, len(stamps)),
        TIMESTAMP: stamps.repeat(n),
    }
    data.update({name: np.concatenate(parts) for name, parts in columns.items()})
    return pd.DataFrame(data)


def _labels(building_ids: np.ndarray, stamps: pd.DatetimeIndex, incidents: list[np.ndarray]) -> pd.DataFrame:
    """Label of snapshot t: the recorded incident of the month that starts at t."""
    return _frame(building_ids, stamps[:-1], {LABEL: incidents[1:]})


def snapshot_stamps(months: int, end_month: dt.date | None = None) -> pd.DatetimeIndex:
    """The monthly snapshot timestamps (00:00 UTC on the first of each month, microseconds)."""
    end = pd.Timestamp(end_month or DEFAULT_END_MONTH).to_period("M").to_timestamp()
    stamps = pd.date_range(end=end, periods=months, freq="MS", tz="UTC")
    return stamps.as_unit("us")


def generate_buildings(
    n_buildings: int, *, months: int = 24, seed: int, end_month: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Tables ``profile, monitoring, inspection, history, weather, labels`` of a seeded population."""
    if n_buildings < 1 or months < 2:
        raise ValueError("need at least one building and two months")
    rng = np.random.default_rng(seed)
    stamps = snapshot_stamps(months, end_month)
    profile = _draw_profile(rng, n_buildings)
    state = _initial_state(rng, profile)
    tables: dict[str, dict[str, list[np.ndarray]]] = {}
    incidents: list[np.ndarray] = []
    for offset in range(-BURN_IN_MONTHS, months):
        # The month simulated here is the one that ends at snapshot ``offset``.
        month_start = stamps[0] + pd.DateOffset(months=offset - 1)
        month = _advance(rng, profile, state, month_start, offset)
        if offset < 0:
            continue
        incidents.append(month.recorded_incident)
        for table, columns in _snapshot(profile, state, month, offset / 12.0).items():
            for name, values in columns.items():
                tables.setdefault(table, {}).setdefault(name, []).append(values)
    building_ids = np.array([f"B{i:07d}" for i in range(1, n_buildings + 1)], dtype=object)
    frames = {table: _frame(building_ids, stamps, columns) for table, columns in tables.items()}
    frames["labels"] = _labels(building_ids, stamps, incidents)
    return frames
