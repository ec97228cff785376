"""Feature definitions of the ``buildings`` population and the ``fire_risk`` feature service.

Five feature views over the generator's monthly parquet snapshots (see :mod:`features.buildings`),
all keyed by the entity ``building`` (join key ``building_id``). Feature names are unique across
views, because online reads use short names. The ttl of 120 days lets a point-in-time join reach
back over a few missed monthly snapshots without reaching into last year.

Descriptions are written to be read as reason codes ("Violations found and not yet rectified: 3
(raises risk)"). A feature declares its direction of risk where fire-safety practice settles it
(older buildings, more faults, open violations, overload, hot dry weather raise it; a sprinkler
system and humid weather lower it); the fire-risk model is monotone in each declared direction.
Codes and one-hot use types, the district, size proxies without a settled direction (floors,
height), the key-unit flag, false alarms and inspection recency (key units are inspected more
often, and an incident brings an inspection) stay free.
"""

from __future__ import annotations

from datetime import timedelta

from features.buildings import ENTITY_KEY, LABEL, USE_FLAG_COLUMNS, USE_TYPES
from features.definitions.specs import FeatureKind, FeatureSpec, PopulationSpec, RiskDirection, ServiceSpec, ViewSpec


def _flag(name: str, description: str, direction: RiskDirection = 0) -> FeatureSpec:
    return FeatureSpec(name, "int", f"{description}, 1 = yes", minimum=0, maximum=1, risk_direction=direction)


def _count(name: str, description: str, *, nullable: bool = False, direction: RiskDirection = 1) -> FeatureSpec:
    kind: FeatureKind = "float" if nullable else "int"
    return FeatureSpec(name, kind, description, minimum=0, nullable=nullable, risk_direction=direction)


PROFILE = ViewSpec(
    name="building_profile",
    table="profile",
    description="Static-ish building profile: use, size, structure, fire protection.",
    features=(
        FeatureSpec("building_age_years", "float", "Building age in years", 0, 200, risk_direction=1),
        FeatureSpec("use_type_code", "int", f"Main use code ({', '.join(USE_TYPES)})", minimum=0, maximum=5),
        *(_flag(name, f"Main use {name[3:].replace('_', ' ')}") for name in USE_FLAG_COLUMNS),
        FeatureSpec("floor_area_m2", "float", "Gross floor area, m²", 1, 5_000_000, risk_direction=1),
        FeatureSpec("floors", "int", "Storeys above ground", minimum=1, maximum=200),
        FeatureSpec("height_m", "float", "Building height, m", minimum=1, maximum=700),
        FeatureSpec("district_code", "int", "Administrative district code", minimum=110_000, maximum=829_999),
        _flag("has_sprinkler", "Automatic sprinkler system installed", direction=-1),
        _flag("is_high_rise", "High-rise under GB 50016 (over 27 m residential, 24 m other)", direction=1),
        _flag("is_key_fire_unit", "Listed as a key fire-safety unit (消防安全重点单位)"),
    ),
)

MONITORING = ViewSpec(
    name="building_monitoring",
    table="monitoring",
    description="IoT monitoring of fire facilities and usage over the last month; NaN without sensors.",
    features=(
        FeatureSpec("occupancy_rate", "float", "Share of floor area in use", 0, 1, risk_direction=1),
        _count("sensor_faults_30d", "Fire-facility sensor faults in the last 30 days", nullable=True),
        _count("alarms_30d", "Fire alarms raised in the last 30 days", nullable=True),
        _count("false_alarms_30d", "Alarms verified as false in the last 30 days", nullable=True, direction=0),
        FeatureSpec(
            "facility_offline_hours_30d",
            "float",
            "Hours fire facilities were offline in the last 30 days",
            0,
            744,
            nullable=True,
            risk_direction=1,
        ),
        FeatureSpec(
            "electrical_load_ratio",
            "float",
            "Peak electrical load / rated capacity",
            0,
            5,
            nullable=True,
            risk_direction=1,
        ),
    ),
)

INSPECTION = ViewSpec(
    name="building_inspection",
    table="inspection",
    description="Fire inspections: recency, violations, the inspector's hazard score.",
    features=(
        FeatureSpec("days_since_inspection", "int", "Days since the last fire inspection", 0, 36_500),
        _count("open_violations", "Violations found and not yet rectified"),
        _count("violations_12m", "Violations found in the last 12 months"),
        FeatureSpec(
            "last_inspection_hazard_score",
            "float",
            "Inspector's hazard score at the last inspection (0-100)",
            0,
            100,
            nullable=True,
            risk_direction=1,
        ),
    ),
)

HISTORY = ViewSpec(
    name="building_incident_history",
    table="history",
    description="Recorded fire incidents up to the snapshot.",
    features=(
        _count("incidents_12m", "Recorded incidents in the last 12 months"),
        _count("incidents_total", "Recorded incidents since records began"),
    ),
)

WEATHER = ViewSpec(
    name="building_weather",
    table="weather",
    description="Weather of the building's district over the last month (denormalised per building).",
    features=(
        FeatureSpec("max_temp_c", "float", "Highest daily temperature last month, °C", -30, 50, risk_direction=1),
        FeatureSpec("mean_humidity_pct", "float", "Mean relative humidity last month, %", 0, 100, risk_direction=-1),
        FeatureSpec("dry_days", "int", "Days without rain last month", 0, 31, risk_direction=1),
        FeatureSpec("max_wind_speed_ms", "float", "Highest gust last month, m/s", 0, 100, risk_direction=1),
    ),
)

BUILDINGS = PopulationSpec(
    name="buildings",
    entity="building",
    entity_key=ENTITY_KEY,
    entity_id_pattern=r"^B\d{7}$",
    entity_description="A building or key fire-safety unit",
    label_table="labels",
    label=LABEL,
    views=(PROFILE, MONITORING, INSPECTION, HISTORY, WEATHER),
    ttl=timedelta(days=120),
)

FIRE_RISK = ServiceSpec(
    name="fire_risk",
    description="Every building feature, for the fire-incident probability of the next month.",
    population=BUILDINGS,
    views=BUILDINGS.views,
)
