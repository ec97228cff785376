"""Feature definitions of the ``enterprises`` population and the ``risk_scoring`` feature service.

Seven feature views, one per data source, derived from the signal tables of
:mod:`features.enterprises` (so the generator and the definitions cannot disagree): more than 100
features keyed by the entity ``enterprise`` (join key ``enterprise_id``). Flows are nullable: a
source that does not share data for an enterprise leaves its features missing.
"""

from __future__ import annotations

from datetime import timedelta

from features.definitions.specs import FeatureSpec, PopulationSpec, ServiceSpec, ViewSpec
from features.enterprises import (
    ENTITY_KEY,
    EVENT_WINDOWS,
    EVENTS,
    FLOW_WINDOWS,
    FLOWS,
    INDUSTRIES,
    LABEL,
    Flow,
    feature_views,
)

VIEW_DESCRIPTIONS = {
    "registration": "Business registration: age, capital, ownership, structure changes.",
    "tax": "Tax payments, invoices and filing behaviour.",
    "social_insurance": "Social insurance: insured employees, wage base, arrears.",
    "utilities": "Electricity, water and gas use and payment behaviour.",
    "court_penalty": "Court cases, enforcement, dishonest-debtor and penalty records.",
    "financing": "Bank loans, repayments, overdue days and guarantees.",
    "supply_chain": "Orders, purchases, receivables, payables and customer defaults.",
}

STATIC_FEATURES = (
    FeatureSpec("enterprise_age_years", "float", "Years since registration", 0, 100, risk_direction=-1),
    FeatureSpec("registered_capital_10k_cny", "float", "Registered capital, 10k CNY", 0, 1e9, risk_direction=-1),
    FeatureSpec("paid_in_capital_ratio", "float", "Paid-in share of registered capital", 0, 1, risk_direction=-1),
    FeatureSpec("industry_code", "int", f"Industry code: {', '.join(INDUSTRIES)}", 0, len(INDUSTRIES) - 1),
    FeatureSpec("is_listed", "int", "Listed on a stock exchange, 1 = yes", 0, 1, risk_direction=-1),
    FeatureSpec("is_state_owned", "int", "State-owned, 1 = yes", 0, 1, risk_direction=-1),
    FeatureSpec("branch_count", "int", "Registered branches", minimum=0),
    FeatureSpec("social_insurance_arrears_months", "int", "Consecutive months in arrears", 0, risk_direction=1),
    FeatureSpec("loan_overdue_days", "int", "Days the oldest loan instalment is overdue", 0, 10_000, risk_direction=1),
    FeatureSpec("dishonest_debtor", "int", "Listed as a dishonest judgment debtor, 1 = yes", 0, 1, risk_direction=1),
    FeatureSpec(
        "consumption_restricted", "int", "Under a high-consumption restriction, 1 = yes", 0, 1, risk_direction=1
    ),
    FeatureSpec("abnormal_operation_listed", "int", "On the abnormal-operation list, 1 = yes", 0, 1, risk_direction=1),
)

_WINDOW_TEXT = {
    "1m": "last month",
    "avg3m": "monthly mean over 3 months",
    "avg12m": "monthly mean over 12 months",
    "growth3m": "growth of the last 3 months over the 3 before",
    "yoy": "growth of the last 3 months year on year",
}


def _flow_feature(flow: Flow, window: str) -> FeatureSpec:
    description = f"{flow.description}, {_WINDOW_TEXT[window]}"
    if window in ("growth3m", "yoy"):
        return FeatureSpec(f"{flow.name}_{window}", "float", description, -1, 10, nullable=True)
    return FeatureSpec(f"{flow.name}_{window}", "float", description, minimum=0, nullable=True)


def _all_features() -> dict[str, FeatureSpec]:
    features = {feature.name: feature for feature in STATIC_FEATURES}
    features |= {f"{flow.name}_{window}": _flow_feature(flow, window) for flow in FLOWS for window in FLOW_WINDOWS}
    features |= {
        f"{event.name}_{months}m": FeatureSpec(
            f"{event.name}_{months}m", "int", f"{event.description}, last {months} months", 0, risk_direction=1
        )
        for event in EVENTS
        for months in EVENT_WINDOWS
    }
    return features


def _views() -> tuple[ViewSpec, ...]:
    features = _all_features()
    by_table = feature_views()
    return tuple(
        ViewSpec(
            name=f"enterprise_{table}",
            table=table,
            description=description,
            features=tuple(features[name] for name in by_table if by_table[name] == table),
        )
        for table, description in VIEW_DESCRIPTIONS.items()
    )


ENTERPRISES = PopulationSpec(
    name="enterprises",
    entity="enterprise",
    entity_key=ENTITY_KEY,
    entity_id_pattern=r"^E\d{8}$",
    entity_description="An enterprise monitored for financial distress",
    label_table="labels",
    label=LABEL,
    views=_views(),
    ttl=timedelta(days=120),
)

RISK_SCORING = ServiceSpec(
    name="risk_scoring",
    description="The whole enterprise profile, for the financial-distress probability of the next month.",
    population=ENTERPRISES,
    views=ENTERPRISES.views,
)
