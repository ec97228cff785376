"""Feature definitions of the ``market_entities`` population and the ``credit_supervision`` service.

Four feature views over the generator's monthly snapshots (see :mod:`features.market_entities`),
keyed by the entity ``market_entity`` (join key ``market_entity_id``). Every feature declares its
direction of risk: the credit model is monotone in each declared direction, so that a supervisor
can say "more penalties never improved a grade". A ttl of 120 days, as for buildings.
"""

from __future__ import annotations

from datetime import timedelta

from features.definitions.specs import FeatureSpec, PopulationSpec, RiskDirection, ServiceSpec, ViewSpec
from features.market_entities import ENTITY_KEY, INDUSTRIES, LABEL


def _count(name: str, description: str, direction: RiskDirection = 1) -> FeatureSpec:
    return FeatureSpec(name, "int", description, minimum=0, risk_direction=direction)


def _flag(name: str, description: str, direction: RiskDirection = 1) -> FeatureSpec:
    return FeatureSpec(name, "int", description, minimum=0, maximum=1, risk_direction=direction)


REGISTRATION = ViewSpec(
    name="market_entity_registration",
    table="registration",
    description="Business registration: age, registered capital, industry, form, size.",
    features=(
        FeatureSpec("registration_age_years", "float", "Years since registration", 0, 100, risk_direction=-1),
        FeatureSpec("registered_capital_10k_cny", "float", "Registered capital, 10k CNY", 0, 1e8, risk_direction=-1),
        FeatureSpec("industry_code", "int", f"Industry code: {', '.join(INDUSTRIES)}", 0, len(INDUSTRIES) - 1),
        _flag("is_individual_business", "Individual business (个体工商户), 1 = yes", direction=0),
        FeatureSpec("employees", "int", "Employees", minimum=1, maximum=1_000_000),
    ),
)

COMPLIANCE = ViewSpec(
    name="market_entity_compliance",
    table="compliance",
    description="Annual report filing, tax credit rating, social insurance payment.",
    features=(
        _flag("annual_report_filed", "Last annual report filed on time, 1 = yes", direction=-1),
        _count("annual_report_late_years", "Years the annual report was filed late or not at all"),
        FeatureSpec("tax_credit_rating_code", "int", "Tax credit rating 0=A 1=B 2=M 3=C 4=D", 0, 4, risk_direction=1),
        _count("social_insurance_arrears_months", "Consecutive months in social insurance arrears"),
    ),
)

ENFORCEMENT = ViewSpec(
    name="market_entity_enforcement",
    table="enforcement",
    description="Administrative penalties, abnormal-operation list, court judgments, dishonest-debtor list.",
    features=(
        _count("admin_penalties_12m", "Administrative penalties in the last 12 months"),
        _count("admin_penalties_total", "Administrative penalties and serious violations on record"),
        _flag("abnormal_operation_listed", "On the abnormal-operation list (经营异常名录), 1 = yes"),
        _count("court_judgments_12m", "Court judgments against the entity in the last 12 months"),
        _flag("dishonest_debtor", "Listed as a dishonest judgment debtor (失信被执行人), 1 = yes"),
    ),
)

OVERSIGHT = ViewSpec(
    name="market_entity_oversight",
    table="oversight",
    description="Consumer complaints and on-site inspection results.",
    features=(
        _count("complaints_3m", "Consumer complaints in the last 3 months"),
        _count("complaints_12m", "Consumer complaints in the last 12 months"),
        FeatureSpec("days_since_inspection", "float", "Days since the last inspection", 0, 36_500, nullable=True),
        FeatureSpec(
            "last_inspection_result",
            "float",
            "Last inspection result 0=pass 1=minor issues 2=failed",
            0,
            2,
            nullable=True,
            risk_direction=1,
        ),
    ),
)

MARKET_ENTITIES = PopulationSpec(
    name="market_entities",
    entity="market_entity",
    entity_key=ENTITY_KEY,
    entity_id_pattern=r"^M\d{8}$",
    entity_description="A market entity (company or individual business) under market supervision",
    label_table="labels",
    label=LABEL,
    views=(REGISTRATION, COMPLIANCE, ENFORCEMENT, OVERSIGHT),
    ttl=timedelta(days=120),
)

CREDIT_SUPERVISION = ServiceSpec(
    name="credit_supervision",
    description="Every market-entity feature, for the serious-violation probability of the next month.",
    population=MARKET_ENTITIES,
    views=MARKET_ENTITIES.views,
)
