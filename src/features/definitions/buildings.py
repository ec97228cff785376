"""Feature definitions of the ``buildings`` population and the ``fire_risk`` feature service.

Five feature views over the generator's monthly parquet snapshots (see :mod:`features.buildings`),
all keyed by the entity ``building`` (join key ``building_id``). Feature names are unique across
views, because online reads use short names. The ttl of 120 days lets a point-in-time join reach
back over a few missed monthly snapshots without reaching into last year.
"""

from __future__ import annotations

from datetime import timedelta

from features.buildings import ENTITY_KEY, LABEL, USE_FLAG_COLUMNS, USE_TYPES
from features.definitions.specs import FeatureKind, FeatureSpec, PopulationSpec, ServiceSpec, ViewSpec


def _flag(name: str, description: str) -> FeatureSpec:
    return FeatureSpec(name, "int", description, minimum=0, maximum=1)


def _count(name: str, description: str, *, nullable: bool = False) -> FeatureSpec:
    kind: FeatureKind = "float" if nullable else "int"
    return FeatureSpec(name, kind, description, minimum=0, nullable=nullable)


PROFILE = ViewSpec(
    name="building_profile",
    table="profile",
    description="Static-ish building profile: use, size, structure, fire protection.",
    features=(
        FeatureSpec("building_age_years", "float", "Years since completion", minimum=0, maximum=200),
        FeatureSpec("use_type_code", "int", f"Use type code: {', '.join(USE_TYPES)}", minimum=0, maximum=5),
        *(_flag(name, f"1 if the building's main use is {name[3:]}") for name in USE_FLAG_COLUMNS),
        FeatureSpec("floor_area_m2", "float", "Gross floor area in square metres", minimum=1, maximum=5_000_000),
        FeatureSpec("floors", "int", "Storeys above ground", minimum=1, maximum=200),
        FeatureSpec("height_m", "float", "Building height in metres", minimum=1, maximum=700),
        FeatureSpec("district_code", "int", "Administrative district code", minimum=110_000, maximum=829_999),
        _flag("has_sprinkler", "1 if an automatic sprinkler system is installed"),
        _flag("is_high_rise", "1 if high-rise under GB 50016 (over 27 m residential, 24 m other)"),
        _flag("is_key_fire_unit", "1 if listed as a key fire-safety unit"),
    ),
)

MONITORING = ViewSpec(
    name="building_monitoring",
    table="monitoring",
    description="IoT monitoring of fire facilities and usage over the last month; NaN without sensors.",
    features=(
        FeatureSpec("occupancy_rate", "float", "Share of floor area in use", minimum=0, maximum=1),
        _count("sensor_faults_30d", "Fire-facility sensor faults in the last 30 days", nullable=True),
        _count("alarms_30d", "Fire alarms raised in the last 30 days", nullable=True),
        _count("false_alarms_30d", "Alarms verified as false in the last 30 days", nullable=True),
        FeatureSpec("facility_offline_hours_30d", "float", "Hours fire facilities were offline", 0, 744, nullable=True),
        FeatureSpec("electrical_load_ratio", "float", "Peak load / rated capacity", 0, 5, nullable=True),
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
        FeatureSpec("last_inspection_hazard_score", "float", "Hazard score 0-100", 0, 100, nullable=True),
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
        FeatureSpec("max_temp_c", "float", "Highest daily maximum temperature, deg C", minimum=-30, maximum=50),
        FeatureSpec("mean_humidity_pct", "float", "Mean relative humidity, %", minimum=0, maximum=100),
        FeatureSpec("dry_days", "int", "Days without rain", minimum=0, maximum=31),
        FeatureSpec("max_wind_speed_ms", "float", "Highest gust, m/s", minimum=0, maximum=100),
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
