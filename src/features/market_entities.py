"""Seeded synthetic population of market entities for the ``credit_supervision`` algorithm.

Models the market entities (市场主体: companies and individual businesses) a market-regulation
bureau supervises: a registration profile, compliance records (annual reports, tax credit rating,
social insurance), enforcement records (administrative penalties, the abnormal-operation list,
court judgments, dishonest-debtor listing) and complaints and inspection results, observed as
monthly snapshots. A latent integrity trait and an autocorrelated monthly stress drive every
record and the label ``serious_violation_next_month``: a serious violation (严重违法失信 listing
or a major penalty) recorded in the month that starts at the snapshot, about 2 % of entity-months.
Records are noisy: some violations go unrecorded, a few recorded ones are clerical errors.

Time follows :mod:`features.buildings`: snapshot ``t`` summarises everything up to ``t``; the
simulation walks forward month by month and never looks ahead. Pure numpy and pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.buildings import snapshot_stamps

ENTITY_KEY = "market_entity_id"
TIMESTAMP = "event_timestamp"
LABEL = "serious_violation_next_month"
BURN_IN_MONTHS = 12
INDUSTRIES = ("retail", "catering", "manufacturing", "construction", "logistics", "services", "food", "tech")
INDUSTRY_RISK = np.array([0.1, 0.5, 0.3, 0.6, 0.3, 0.0, 0.6, -0.3])
INDUSTRY_SHARES = np.array([0.24, 0.14, 0.12, 0.08, 0.08, 0.2, 0.06, 0.08])
VIOLATION_INTERCEPT = -5.4
"""Logit of the monthly serious-violation probability of an average entity (about 2 % overall)."""
RECORDED_IF_VIOLATION = 0.85
RECORDED_IF_NONE = 0.002
STRESS_PERSISTENCE = 0.75


@dataclass(frozen=True)
class _Profile:
    industry: np.ndarray
    age_years: np.ndarray
    capital_10k_cny: np.ndarray
    is_individual: np.ndarray
    employees: np.ndarray
    integrity: np.ndarray
    """Latent law-abidingness (higher is worse); no feature shows it directly."""


@dataclass
class _State:
    stress: np.ndarray
    tax_rating: np.ndarray
    report_late_years: np.ndarray
    report_filed: np.ndarray
    abnormal_listed: np.ndarray
    dishonest: np.ndarray
    arrears_months: np.ndarray
    days_since_inspection: np.ndarray
    last_inspection: np.ndarray
    penalties_total: np.ndarray
    penalties: list[np.ndarray]
    judgments: list[np.ndarray]
    complaints: list[np.ndarray]


def _draw_profile(rng: np.random.Generator, n: int) -> _Profile:
    industry = rng.choice(len(INDUSTRIES), size=n, p=INDUSTRY_SHARES)
    is_individual = rng.random(n) < 0.35
    capital = np.where(is_individual, rng.lognormal(2.0, 0.8, n), rng.lognormal(5.0, 1.3, n))
    employees = np.where(is_individual, rng.integers(1, 6, n), np.round(rng.lognormal(2.3, 1.1, n)) + 1)
    return _Profile(
        industry=industry,
        age_years=np.clip(rng.gamma(1.6, 4.0, n), 0.1, 40.0),
        capital_10k_cny=np.round(capital, 1),
        is_individual=is_individual,
        employees=np.clip(employees, 1, 20_000).astype(np.int64),
        integrity=rng.normal(0.0, 1.0, n) + INDUSTRY_RISK[industry],
    )


def _initial_state(rng: np.random.Generator, profile: _Profile) -> _State:
    n = profile.industry.size
    base = profile.integrity
    return _State(
        stress=rng.normal(0.0, 0.6, n),
        tax_rating=np.clip(np.round(1.2 + 0.9 * base + rng.normal(0.0, 0.8, n)), 0, 4).astype(np.int64),
        report_late_years=rng.poisson(0.3 * np.exp(0.8 * base) * np.minimum(profile.age_years, 5.0) / 5.0),
        report_filed=(rng.random(n) > 1.0 / (1.0 + np.exp(-(base - 2.0)))).astype(np.int64),
        abnormal_listed=(rng.random(n) < 0.03 * np.exp(base)).astype(np.int64),
        dishonest=(rng.random(n) < 0.01 * np.exp(base)).astype(np.int64),
        arrears_months=np.zeros(n, dtype=np.int64),
        days_since_inspection=np.where(rng.random(n) < 0.6, rng.integers(0, 900, n), -1),
        last_inspection=np.full(n, np.nan),
        penalties_total=rng.poisson(0.2 * np.exp(base)),
        penalties=[np.zeros(n, dtype=np.int64) for _ in range(12)],
        judgments=[np.zeros(n, dtype=np.int64) for _ in range(12)],
        complaints=[np.zeros(n, dtype=np.int64) for _ in range(12)],
    )


def _violation_logit(profile: _Profile, state: _State) -> np.ndarray:
    logit: np.ndarray = (
        VIOLATION_INTERCEPT
        + 0.9 * profile.integrity
        + 0.8 * state.stress
        + 0.25 * state.tax_rating
        + 0.5 * state.abnormal_listed
        + 0.6 * state.dishonest
        + 0.12 * np.minimum(state.arrears_months, 6)
        + 0.3 * np.log1p(np.sum(state.penalties, axis=0))
        - 0.15 * np.log1p(profile.age_years)
    )
    return logit


def _yearly_updates(rng: np.random.Generator, profile: _Profile, state: _State, month_of_year: int) -> None:
    """Annual reports are due by 30 June; tax credit ratings are published in April."""
    n = profile.industry.size
    risk = profile.integrity + state.stress
    if month_of_year == 7:
        filed = rng.random(n) > 1.0 / (1.0 + np.exp(-(risk - 2.2)))
        state.report_filed = filed.astype(np.int64)
        state.report_late_years = state.report_late_years + (~filed)
        state.abnormal_listed = np.maximum(state.abnormal_listed, (~filed & (rng.random(n) < 0.8)).astype(np.int64))
    if month_of_year == 4:
        rating = 1.2 + 0.9 * profile.integrity + 0.4 * state.stress + rng.normal(0.0, 0.6, n)
        state.tax_rating = np.clip(np.round(rating), 0, 4).astype(np.int64)


def _monthly_records(rng: np.random.Generator, profile: _Profile, state: _State, days_in_month: int) -> None:
    n = profile.industry.size
    risk = profile.integrity + state.stress
    penalties = rng.poisson(0.02 * np.exp(0.9 * risk))
    judgments = rng.poisson(0.015 * np.exp(0.8 * risk) * (1.0 + np.log1p(profile.employees) / 3.0))
    complaints = rng.poisson(0.05 * np.exp(0.6 * risk) * (1.0 + 0.5 * np.isin(profile.industry, (1, 6))))
    in_arrears = rng.random(n) < 1.0 / (1.0 + np.exp(-(0.9 * state.stress + 0.5 * profile.integrity - 2.5)))
    state.arrears_months = np.where(in_arrears, state.arrears_months + 1, 0)
    state.dishonest = np.maximum(state.dishonest, ((judgments > 0) & (rng.random(n) < 0.25)).astype(np.int64))
    state.dishonest = np.where(rng.random(n) < 0.02, 0, state.dishonest)
    state.abnormal_listed = np.where(state.report_filed.astype(bool) & (rng.random(n) < 0.05), 0, state.abnormal_listed)
    state.penalties = [*state.penalties[1:], penalties]
    state.judgments = [*state.judgments[1:], judgments]
    state.complaints = [*state.complaints[1:], complaints]
    state.penalties_total = state.penalties_total + penalties
    inspected = rng.random(n) < 0.03 + 0.1 * (complaints > 0)
    outcome = np.clip(np.round(0.4 + 0.6 * risk + rng.normal(0.0, 0.6, n)), 0, 2)
    state.last_inspection = np.where(inspected, outcome, state.last_inspection)
    never = state.days_since_inspection < 0
    advanced = np.where(never, -1, state.days_since_inspection + days_in_month)
    state.days_since_inspection = np.where(inspected, rng.integers(0, days_in_month, n), advanced)


def _advance(rng: np.random.Generator, profile: _Profile, state: _State, month_start: pd.Timestamp) -> np.ndarray:
    """Simulate one calendar month; returns the recorded serious violations of that month."""
    n = profile.industry.size
    state.stress = STRESS_PERSISTENCE * state.stress + rng.normal(0.0, 0.6, n)
    _yearly_updates(rng, profile, state, month_start.month)
    violation = rng.random(n) < 1.0 / (1.0 + np.exp(-_violation_logit(profile, state)))
    recorded = rng.random(n) < np.where(violation, RECORDED_IF_VIOLATION, RECORDED_IF_NONE)
    _monthly_records(rng, profile, state, month_start.days_in_month)
    state.penalties_total = state.penalties_total + recorded
    return recorded.astype(np.int64)


def _snapshot(profile: _Profile, state: _State, years_elapsed: float) -> dict[str, dict[str, np.ndarray]]:
    never = state.days_since_inspection < 0
    return {
        "registration": {
            "registration_age_years": np.round(profile.age_years + years_elapsed, 2),
            "registered_capital_10k_cny": profile.capital_10k_cny,
            "industry_code": profile.industry.astype(np.int64),
            "is_individual_business": profile.is_individual.astype(np.int64),
            "employees": profile.employees,
        },
        "compliance": {
            "annual_report_filed": state.report_filed,
            "annual_report_late_years": state.report_late_years.astype(np.int64),
            "tax_credit_rating_code": state.tax_rating,
            "social_insurance_arrears_months": state.arrears_months.astype(np.int64),
        },
        "enforcement": {
            "admin_penalties_12m": np.sum(state.penalties, axis=0).astype(np.int64),
            "admin_penalties_total": state.penalties_total.astype(np.int64),
            "abnormal_operation_listed": state.abnormal_listed,
            "court_judgments_12m": np.sum(state.judgments, axis=0).astype(np.int64),
            "dishonest_debtor": state.dishonest,
        },
        "oversight": {
            "complaints_3m": np.sum(state.complaints[-3:], axis=0).astype(np.int64),
            "complaints_12m": np.sum(state.complaints, axis=0).astype(np.int64),
            "days_since_inspection": np.where(never, np.nan, state.days_since_inspection).astype(float),
            "last_inspection_result": np.where(never, np.nan, state.last_inspection),
        },
    }


def _frame(ids: np.ndarray, stamps: pd.DatetimeIndex, columns: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    data: dict[str, object] = {ENTITY_KEY: np.tile(ids, len(stamps)), TIMESTAMP: stamps.repeat(ids.size)}
    data.update({name: np.concatenate(parts) for name, parts in columns.items()})
    return pd.DataFrame(data)


def generate_market_entities(
    n_entities: int, *, months: int = 24, seed: int, end_month: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Tables ``registration, compliance, enforcement, oversight, labels`` of a seeded population."""
    if n_entities < 1 or months < 2:
        raise ValueError("need at least one entity and two months")
    rng = np.random.default_rng(seed)
    stamps = snapshot_stamps(months, end_month)
    profile = _draw_profile(rng, n_entities)
    state = _initial_state(rng, profile)
    tables: dict[str, dict[str, list[np.ndarray]]] = {}
    violations: list[np.ndarray] = []
    for offset in range(-BURN_IN_MONTHS, months):
        recorded = _advance(rng, profile, state, stamps[0] + pd.DateOffset(months=offset - 1))
        if offset < 0:
            continue
        violations.append(recorded)
        for table, columns in _snapshot(profile, state, offset / 12.0).items():
            for name, values in columns.items():
                tables.setdefault(table, {}).setdefault(name, []).append(values)
    ids = np.array([f"M{i:08d}" for i in range(1, n_entities + 1)], dtype=object)
    frames = {table: _frame(ids, stamps, columns) for table, columns in tables.items()}
    frames["labels"] = _frame(ids, stamps[:-1], {LABEL: violations[1:]})
    return frames
