"""Seeded synthetic population of enterprises for the ``risk_scoring`` algorithm.

An enterprise profile of more than 100 features in seven views (registration, tax, social
insurance, utilities, court and penalty records, financing, supply chain), observed as monthly
snapshots. A latent financial distress (an AR(1) process pulled by a static fragility and by a
macro downturn that deepens over the simulated period) drives every monthly flow and the label
``distress_next_month``: a recorded distress event (loan default, bankruptcy filing, enforcement
cut-off) in the month that starts at the snapshot, about 1-2 % of enterprise-months.

Structure the model has to cope with:

* **missingness**: data sharing covers only some enterprises per source (utilities ~80 %, rising
  when a second utility joins half-way; financing ~70 %; supply chain ~60 %; social insurance
  ~92 %), plus 2 % of cells lost at random;
* **drift**: the macro downturn raises distress (and the base rate) month by month and shifts
  every flow's distribution; electricity prices rise, so utility amounts grow without more use;
* **seasonality**: flows dip over the Spring Festival (February).

The feature list is declared here once, as *signals* (monthly flows and event counts) expanded
into windowed features; :mod:`features.definitions.enterprises` derives the Feast views and the
pandera schemas from the same tables, so the two cannot drift apart. Pure numpy and pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.buildings import snapshot_stamps

ENTITY_KEY = "enterprise_id"
TIMESTAMP = "event_timestamp"
LABEL = "distress_next_month"
BURN_IN_MONTHS = 15
"""Months simulated before the first snapshot, so that year-on-year windows start full."""
INDUSTRIES = ("manufacturing", "construction", "wholesale", "retail", "logistics", "real_estate", "tech", "services")
INDUSTRY_FRAGILITY = np.array([0.1, 0.5, 0.2, 0.2, 0.2, 0.7, -0.2, 0.0])
DISTRESS_INTERCEPT = -5.5
DISTRESS_PERSISTENCE = 0.85
MACRO_DOWNTURN = 0.5
"""Distress added by the macro downturn by the last simulated month (linear from zero)."""
CELL_MISSING_SHARE = 0.02


@dataclass(frozen=True)
class Flow:
    """A monthly amount (10k CNY or a count of units) expanded into five windowed features."""

    view: str
    name: str
    description: str
    log_level: float
    size_elasticity: float
    distress_loading: float
    """Change of log(flow) per unit of distress (negative: distress shrinks the flow)."""


@dataclass(frozen=True)
class Events:
    """A monthly event count expanded into 3- and 12-month counts."""

    view: str
    name: str
    description: str
    monthly_rate: float
    distress_loading: float


FLOW_WINDOWS = ("1m", "avg3m", "avg12m", "growth3m", "yoy")
COVERAGE = {"tax": 1.0, "social_insurance": 0.92, "utilities": 0.8, "financing": 0.7, "supply_chain": 0.6}
"""Share of enterprises whose source shares data (views not named here are always covered)."""

FLOWS = (
    Flow("tax", "vat_paid", "VAT paid, 10k CNY", 1.0, 0.9, -0.35),
    Flow("tax", "income_tax_paid", "Corporate income tax paid, 10k CNY", 0.2, 1.0, -0.6),
    Flow("tax", "invoice_amount", "Amount of VAT invoices issued, 10k CNY", 3.0, 0.9, -0.3),
    Flow("tax", "invoice_count", "VAT invoices issued", 3.0, 0.8, -0.25),
    Flow("social_insurance", "insured_employees", "Employees with social insurance paid", 2.0, 1.0, -0.15),
    Flow("social_insurance", "wage_base", "Total contribution wage base, 10k CNY", 1.5, 1.0, -0.2),
    Flow("utilities", "electricity_mwh", "Electricity used, MWh", 1.5, 1.0, -0.3),
    Flow("utilities", "water_kt", "Water used, thousand tonnes", -1.0, 0.8, -0.2),
    Flow("utilities", "gas_km3", "Gas used, thousand cubic metres", -0.5, 0.8, -0.25),
    Flow("financing", "loan_balance", "Bank loan balance, 10k CNY", 4.0, 1.1, 0.2),
    Flow("financing", "new_loans", "New bank loans, 10k CNY", 1.5, 1.0, -0.2),
    Flow("financing", "repayments", "Loan repayments, 10k CNY", 1.6, 1.0, -0.3),
    Flow("supply_chain", "orders", "Orders received, 10k CNY", 3.2, 0.9, -0.4),
    Flow("supply_chain", "purchases", "Purchases, 10k CNY", 2.8, 0.9, -0.3),
    Flow("supply_chain", "receivables", "Receivables outstanding, 10k CNY", 3.0, 0.9, 0.25),
    Flow("supply_chain", "payables", "Payables outstanding, 10k CNY", 2.8, 0.9, 0.3),
)

EVENTS = (
    Events("court_penalty", "lawsuits_as_defendant", "Lawsuits with the enterprise as defendant", 0.02, 0.9),
    Events("court_penalty", "lawsuits_as_plaintiff", "Lawsuits with the enterprise as plaintiff", 0.02, 0.3),
    Events("court_penalty", "enforcement_cases", "Court enforcement cases against the enterprise", 0.008, 1.1),
    Events("court_penalty", "admin_penalties", "Administrative penalties", 0.01, 0.5),
    Events("registration", "shareholder_changes", "Shareholder changes", 0.01, 0.5),
    Events("registration", "legal_rep_changes", "Legal representative changes", 0.005, 0.7),
    Events("registration", "address_changes", "Registered address changes", 0.008, 0.5),
    Events("tax", "late_tax_filings", "Tax returns filed late", 0.02, 0.8),
    Events("tax", "zero_declarations", "Months declared with zero revenue", 0.02, 1.0),
    Events("utilities", "utility_payment_delays", "Utility bills paid late", 0.03, 0.9),
    Events("financing", "new_guarantees", "Guarantees given for other companies", 0.01, 0.4),
    Events("supply_chain", "customer_defaults", "Customers that defaulted on payment", 0.01, 0.5),
)
EVENT_WINDOWS = (3, 12)


@dataclass(frozen=True)
class _Profile:
    industry: np.ndarray
    age_years: np.ndarray
    log_size: np.ndarray
    capital_10k_cny: np.ndarray
    paid_in_ratio: np.ndarray
    is_listed: np.ndarray
    is_soe: np.ndarray
    branch_count: np.ndarray
    fragility: np.ndarray
    flow_level: np.ndarray
    """Entity-specific log level of every flow (entities x flows): firms differ in mix."""
    covered: dict[str, np.ndarray]
    utilities_from_month: np.ndarray


@dataclass
class _State:
    distress: np.ndarray
    flows: list[np.ndarray]
    """Last 15 months of every flow (entities x flows), oldest first."""
    events: list[np.ndarray]
    """Last 12 months of every event count (entities x events), oldest first."""
    overdue_days: np.ndarray
    arrears_months: np.ndarray
    dishonest: np.ndarray
    restricted: np.ndarray
    abnormal: np.ndarray


def _draw_profile(rng: np.random.Generator, n: int) -> _Profile:
    industry = rng.integers(0, len(INDUSTRIES), n)
    log_size = rng.normal(0.0, 1.0, n)
    capital = np.exp(6.0 + 1.2 * log_size + rng.normal(0.0, 0.6, n))
    covered = {view: rng.random(n) < share for view, share in COVERAGE.items()}
    return _Profile(
        industry=industry,
        age_years=np.clip(rng.gamma(2.0, 5.0, n), 0.3, 60.0),
        log_size=log_size,
        capital_10k_cny=np.round(capital, 1),
        paid_in_ratio=np.round(rng.beta(4.0, 1.5, n), 3),
        is_listed=(rng.random(n) < 0.03 + 0.05 * (log_size > 1.5)).astype(np.int64),
        is_soe=(rng.random(n) < 0.08).astype(np.int64),
        branch_count=rng.poisson(np.exp(0.6 * log_size - 0.5)).astype(np.int64),
        fragility=rng.normal(0.0, 0.8, n) + INDUSTRY_FRAGILITY[industry] - 0.2 * log_size,
        flow_level=rng.normal(0.0, 0.4, (n, len(FLOWS))),
        covered=covered,
        # Half the utility-covered enterprises are served by a utility that joins data sharing later.
        utilities_from_month=np.where(rng.random(n) < 0.5, -BURN_IN_MONTHS, 12),
    )


def _initial_state(rng: np.random.Generator, profile: _Profile) -> _State:
    n = profile.industry.size
    zeros = np.zeros(n, dtype=np.int64)
    return _State(
        distress=rng.normal(0.0, 0.5, n) + 0.3 * profile.fragility,
        flows=[],
        events=[np.zeros((n, len(EVENTS)), dtype=np.int64) for _ in range(12)],
        overdue_days=zeros.copy(),
        arrears_months=zeros.copy(),
        dishonest=zeros.copy(),
        restricted=zeros.copy(),
        abnormal=zeros.copy(),
    )


def _monthly_flows(
    rng: np.random.Generator, profile: _Profile, state: _State, month_of_year: int, price_drift: float
) -> np.ndarray:
    level = np.array([flow.log_level for flow in FLOWS])
    elasticity = np.array([flow.size_elasticity for flow in FLOWS])
    loading = np.array([flow.distress_loading for flow in FLOWS])
    festival = -0.25 if month_of_year == 2 else 0.0
    price = np.array([price_drift if flow.view == "utilities" else 0.0 for flow in FLOWS])
    log_flow = (
        level
        + profile.flow_level
        + np.outer(profile.log_size, elasticity)
        + np.outer(state.distress, loading)
        + festival
        + price
        + rng.normal(0.0, 0.25, profile.flow_level.shape)
    )
    flows: np.ndarray = np.round(np.exp(log_flow), 2)
    return flows


def _monthly_events(rng: np.random.Generator, state: _State) -> np.ndarray:
    rate = np.array([event.monthly_rate for event in EVENTS])
    loading = np.array([event.distress_loading for event in EVENTS])
    return rng.poisson(rate * np.exp(np.outer(state.distress, loading))).astype(np.int64)


def _update_status(rng: np.random.Generator, state: _State, events: np.ndarray) -> None:
    n = state.distress.size
    late = rng.random(n) < 1.0 / (1.0 + np.exp(-(1.3 * state.distress - 3.0)))
    state.overdue_days = np.where(late, np.minimum(state.overdue_days + 30, 720), 0)
    in_arrears = rng.random(n) < 1.0 / (1.0 + np.exp(-(1.1 * state.distress - 2.8)))
    state.arrears_months = np.where(in_arrears, state.arrears_months + 1, 0)
    enforcement = events[:, [event.name for event in EVENTS].index("enforcement_cases")] > 0
    state.dishonest = np.maximum(state.dishonest, (enforcement & (rng.random(n) < 0.3)).astype(np.int64))
    state.restricted = np.maximum(state.restricted, (enforcement & (rng.random(n) < 0.2)).astype(np.int64))
    state.abnormal = np.where(rng.random(n) < 0.004 * np.exp(state.distress), 1, state.abnormal)
    state.abnormal = np.where(rng.random(n) < 0.05, 0, state.abnormal)


def _advance(
    rng: np.random.Generator, profile: _Profile, state: _State, month_start: pd.Timestamp, progress: float
) -> np.ndarray:
    """Simulate one calendar month; returns the recorded distress events of that month."""
    n = profile.industry.size
    macro = MACRO_DOWNTURN * max(progress, 0.0)
    noise = rng.normal(0.0, 0.45, n)
    state.distress = DISTRESS_PERSISTENCE * state.distress + 0.15 * (profile.fragility + macro) + noise
    state.flows = [*state.flows[-14:], _monthly_flows(rng, profile, state, month_start.month, 0.1 * progress)]
    events = _monthly_events(rng, state)
    state.events = [*state.events[1:], events]
    _update_status(rng, state, events)
    logit = DISTRESS_INTERCEPT + 1.1 * state.distress + 0.01 * np.minimum(state.overdue_days, 180)
    distressed = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    recorded = rng.random(n) < np.where(distressed, 0.9, 0.001)
    return recorded.astype(np.int64)


def _flow_features(state: _State) -> dict[str, np.ndarray]:
    history = np.stack(state.flows)  # months x entities x flows
    last3, prior3 = history[-3:].mean(axis=0), history[-6:-3].mean(axis=0)
    year_ago3 = history[-15:-12].mean(axis=0)
    windows = {
        "1m": history[-1],
        "avg3m": last3,
        "avg12m": history[-12:].mean(axis=0),
        "growth3m": np.clip(last3 / prior3 - 1.0, -1.0, 10.0),
        "yoy": np.clip(last3 / year_ago3 - 1.0, -1.0, 10.0),
    }
    return {
        f"{flow.name}_{window}": np.round(windows[window][:, index], 4)
        for index, flow in enumerate(FLOWS)
        for window in FLOW_WINDOWS
    }


def _event_features(state: _State) -> dict[str, np.ndarray]:
    history = np.stack(state.events)
    return {
        f"{event.name}_{months}m": history[-months:, :, index].sum(axis=0).astype(np.int64)
        for index, event in enumerate(EVENTS)
        for months in EVENT_WINDOWS
    }


def _static_features(profile: _Profile, state: _State, years_elapsed: float) -> dict[str, np.ndarray]:
    return {
        "enterprise_age_years": np.round(profile.age_years + years_elapsed, 2),
        "registered_capital_10k_cny": profile.capital_10k_cny,
        "paid_in_capital_ratio": profile.paid_in_ratio,
        "industry_code": profile.industry.astype(np.int64),
        "is_listed": profile.is_listed,
        "is_state_owned": profile.is_soe,
        "branch_count": profile.branch_count,
        "social_insurance_arrears_months": state.arrears_months.astype(np.int64),
        "loan_overdue_days": state.overdue_days.astype(np.int64),
        "dishonest_debtor": state.dishonest,
        "consumption_restricted": state.restricted,
        "abnormal_operation_listed": state.abnormal,
    }


def _snapshot_columns(profile: _Profile, state: _State, years_elapsed: float) -> dict[str, np.ndarray]:
    return {
        **_static_features(profile, state, years_elapsed),
        **_flow_features(state),
        **_event_features(state),
    }


def _apply_missingness(
    rng: np.random.Generator, columns: dict[str, np.ndarray], profile: _Profile, month_index: int, views: dict[str, str]
) -> dict[str, np.ndarray]:
    """NaN where a source does not cover the enterprise (yet), and 2 % of flow cells at random."""
    covered = dict(profile.covered)
    covered["utilities"] = covered["utilities"] & (profile.utilities_from_month <= month_index)
    out: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        view = views[name]
        if view not in covered or values.dtype.kind != "f":
            out[name] = values
            continue
        lost = ~covered[view] | (rng.random(values.size) < CELL_MISSING_SHARE)
        out[name] = np.where(lost, np.nan, values)
    return out


def feature_views() -> dict[str, str]:
    """Every generated feature name to the view (table) it belongs to."""
    views = {name: "registration" for name in ("enterprise_age_years", "registered_capital_10k_cny")}
    views |= {name: "registration" for name in ("paid_in_capital_ratio", "industry_code", "is_listed")}
    views |= {"is_state_owned": "registration", "branch_count": "registration"}
    views |= {"social_insurance_arrears_months": "social_insurance", "loan_overdue_days": "financing"}
    views |= {name: "court_penalty" for name in ("dishonest_debtor", "consumption_restricted")}
    views |= {"abnormal_operation_listed": "court_penalty"}
    views |= {f"{flow.name}_{window}": flow.view for flow in FLOWS for window in FLOW_WINDOWS}
    views |= {f"{event.name}_{months}m": event.view for event in EVENTS for months in EVENT_WINDOWS}
    return views


def _frame(ids: np.ndarray, stamps: pd.DatetimeIndex, columns: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    data: dict[str, object] = {ENTITY_KEY: np.tile(ids, len(stamps)), TIMESTAMP: stamps.repeat(ids.size)}
    data.update({name: np.concatenate(parts) for name, parts in columns.items()})
    return pd.DataFrame(data)


def generate_enterprises(
    n_entities: int, *, months: int = 24, seed: int, end_month: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """One table per view (see :func:`feature_views`) and ``labels`` of a seeded population."""
    if n_entities < 1 or months < 2:
        raise ValueError("need at least one enterprise and two months")
    rng = np.random.default_rng(seed)
    stamps = snapshot_stamps(months, end_month)
    profile = _draw_profile(rng, n_entities)
    state = _initial_state(rng, profile)
    views = feature_views()
    columns: dict[str, list[np.ndarray]] = {}
    events: list[np.ndarray] = []
    for offset in range(-BURN_IN_MONTHS, months):
        month_start = stamps[0] + pd.DateOffset(months=offset - 1)
        recorded = _advance(rng, profile, state, month_start, (offset + 1) / months)
        if offset < 0:
            continue
        events.append(recorded)
        snapshot = _apply_missingness(rng, _snapshot_columns(profile, state, offset / 12.0), profile, offset, views)
        for name, values in snapshot.items():
            columns.setdefault(name, []).append(values)
    ids = np.array([f"E{i:08d}" for i in range(1, n_entities + 1)], dtype=object)
    tables = sorted(set(views.values()))
    frames = {
        table: _frame(ids, stamps, {name: columns[name] for name in views if views[name] == table}) for table in tables
    }
    frames["labels"] = _frame(ids, stamps[:-1], {LABEL: events[1:]})
    return frames
