""" "双随机" random inspection lists drawn from a finished credit-supervision run, weighted by grade.

Under graded supervision (分级分类监管) each grade is inspected at its own sampling ratio, which the
model's grading states in its inspection frequency ("sampling ratio 10 %: ...", "key supervision,
100 %: ..."). A draw reads the grades a finished run wrote and either draws each grade at its ratio
(no total), or splits a requested total across the grades in proportion to ``entities x ratio``
(largest remainder, never more than a grade holds); within a grade, entities are drawn uniformly
without replacement. The random entities come from ``np.random.default_rng(seed)`` over entities
sorted by id, grade by grade in grade order, so one seed on one run always gives the same list.
Each draw is stored in the metadata DB and appended to the audit chain in one transaction. The CLI
(``warehouse inspections``) and the HTTP routes (``/v1/inspections``) both call these functions; the
routes pass ``authorize`` (the caller's clearance for the run's model) and ``algorithms`` (the models
the caller is cleared for).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel
from sqlalchemy import select

from scheduling.executor import RunNotFound, resolve_output
from scheduling.store import InspectionDrawEntity, InspectionDrawRecord
from warehouse.audit import append_entry
from warehouse.db import BatchRun, as_utc, open_metadata_db
from warehouse.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.orm import Session

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MAX_SEED = 2**31 - 1
"""Seeds are stored in a 32-bit column; the generator takes any non-negative integer."""

RATIO_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*%")
"""The first percentage in an inspection-frequency text is that grade's sampling ratio."""


class DrawNotFound(NotFound):
    """No inspection draw with that id."""

    code = "inspection_draw_not_found"


class DrawnEntity(BaseModel):
    """One entity on an inspection list."""

    position: int
    entity_id: str
    grade: str
    credit_score: float | None


class InspectionDrawSummary(BaseModel):
    """A recorded draw without its inspection list: what was drawn from which run, per grade."""

    id: str
    run_id: str
    job_name: str | None
    algorithm: str
    seed: int
    requested_total: int | None
    drawn: int
    population: dict[str, int]
    counts: dict[str, int]
    ratios: dict[str, float]
    actor: str
    created_at: dt.datetime


class InspectionDraw(InspectionDrawSummary):
    """A recorded draw with its inspection list, in draw order."""

    entities: list[DrawnEntity]


def sampling_ratios(frequency_by_grade: Mapping[str, str]) -> dict[str, float]:
    """Grade -> sampling ratio in [0, 1], read from each grade's inspection-frequency text."""
    ratios: dict[str, float] = {}
    for grade, text in frequency_by_grade.items():
        found = RATIO_PATTERN.search(text)
        if found is None:
            raise InvalidRequest(f"grade {grade}'s inspection frequency states no sampling ratio: {text!r}")
        ratios[grade] = min(1.0, float(found.group(1)) / 100.0)
    return ratios


def allocate(population: Mapping[str, int], ratios: Mapping[str, float], total: int | None) -> dict[str, int]:
    """Entities to draw per grade: each at its ratio, or ``total`` split by ``entities x ratio``."""
    if total is None:
        return {grade: min(size, math.floor(size * ratios[grade] + 0.5)) for grade, size in population.items()}
    eligible = sum(size for grade, size in population.items() if ratios[grade] > 0)
    if not 0 < total <= eligible:
        raise InvalidRequest(f"total must be between 1 and the {eligible} entities of grades with a sampling ratio")
    counts = dict.fromkeys(population, 0)
    remaining = total
    while remaining > 0:
        room = {grade: size - counts[grade] for grade, size in population.items() if ratios[grade] > 0}
        weights = {grade: population[grade] * ratios[grade] for grade, left in room.items() if left > 0}
        quotas = {grade: remaining * weight / sum(weights.values()) for grade, weight in weights.items()}
        grants = {grade: min(math.floor(quota), room[grade]) for grade, quota in quotas.items()}
        if not any(grants.values()):
            # Less than one each: the largest remainder gets the next one (grade order breaks ties).
            grants = {max(quotas, key=lambda grade: quotas[grade]): 1}
        for grade, grant in grants.items():
            counts[grade] += grant
            remaining -= grant
    return counts


def draw_inspections(
    settings: Settings,
    *,
    seed: int,
    job_name: str | None = None,
    run_id: str | None = None,
    total: int | None = None,
    actor: str = "cli",
    authorize: Callable[[str], None] | None = None,
) -> InspectionDraw:
    """Draw, record and audit an inspection list from a job's latest finished run or a given run.

    ``authorize`` is called with the run's model name before anything is read or drawn; it raises to
    refuse (the HTTP route checks the caller's clearance there).
    """
    if (job_name is None) == (run_id is None):
        raise InvalidRequest("name a job (its latest finished run) or a run, not both")
    if not 0 <= seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be between 0 and {MAX_SEED}")
    with open_metadata_db(settings) as db, db.session() as session:
        run = _finished_run(session, job_name=job_name, run_id=run_id)
        if authorize is not None:
            authorize(run.model_name)
        graded = _graded_output(settings, run)
        population = {str(grade): int(size) for grade, size in graded["grade"].value_counts().sort_index().items()}
        ratios = sampling_ratios(_frequency_by_grade(graded))
        counts = allocate(population, ratios, total)
        entities = _draw(graded, counts, seed)
        record = InspectionDrawRecord(
            id=uuid.uuid4().hex,
            run_id=run.id,
            job_name=run.job_name,
            algorithm=run.algorithm,
            seed=seed,
            requested_total=total,
            drawn=len(entities),
            population=json.dumps(population),
            counts=json.dumps(counts),
            ratios=json.dumps(ratios),
            actor=actor,
        )
        session.add(record)
        session.flush()  # the draw row first: no relationship orders it before its entities' foreign keys
        session.add_all(InspectionDrawEntity(draw_id=record.id, **entity.model_dump()) for entity in entities)
        append_entry(
            session,
            actor=actor,
            action="inspections.draw",
            subject=f"inspection_draw/{record.id}",
            detail={"run_id": run.id, "seed": seed, "total": total, "drawn": len(entities), "counts": record.counts},
        )
        session.flush()
        return InspectionDraw(**_view(record).model_dump(), entities=entities)


def _finished_run(session: Session, *, job_name: str | None, run_id: str | None) -> BatchRun:
    if run_id is not None:
        run = session.get(BatchRun, run_id)
        if run is None:
            raise RunNotFound(f"no batch run {run_id!r}")
        if run.status != "succeeded":
            raise InvalidRequest(f"run {run_id} is {run.status}; draw from a finished run")
        return run
    query = (
        select(BatchRun)
        .where(BatchRun.job_name == job_name, BatchRun.status == "succeeded")
        .order_by(BatchRun.finished_at.desc())
        .limit(1)
    )
    latest = session.scalars(query).first()
    if latest is None:
        raise RunNotFound(f"job {job_name!r} has no finished run")
    return latest


def _graded_output(settings: Settings, run: BatchRun) -> pd.DataFrame:
    """``entity_id, grade, credit_score, inspection_frequency`` of every entity the run scored."""
    import pandas as pd

    from scheduling.specs import RunPlan

    plan = RunPlan.model_validate_json(run.plan)
    frame = pd.read_parquet(resolve_output(settings, plan.output))
    if "grade" not in frame.columns or "inspection_frequency" not in frame.columns:
        raise InvalidRequest(f"run {run.id} ({run.algorithm}) wrote no grades with inspection frequencies")
    credit = frame["credit_score"] if "credit_score" in frame.columns else pd.Series(np.nan, index=frame.index)
    graded = pd.DataFrame(
        {
            "entity_id": frame[plan.entity_key].astype(str),
            "grade": frame["grade"].astype(str),
            "credit_score": credit.astype("float64"),
            "inspection_frequency": frame["inspection_frequency"].astype(str),
        }
    )
    return graded.sort_values("entity_id", ignore_index=True)


def _frequency_by_grade(graded: pd.DataFrame) -> dict[str, str]:
    pairs = graded[["grade", "inspection_frequency"]].drop_duplicates()
    return dict(zip(pairs["grade"].tolist(), pairs["inspection_frequency"].tolist(), strict=True))


def _draw(graded: pd.DataFrame, counts: Mapping[str, int], seed: int) -> list[DrawnEntity]:
    """Uniform draws without replacement within each grade, in grade order, from one seeded generator."""
    rng = np.random.default_rng(seed)
    drawn: list[DrawnEntity] = []
    for grade in sorted(counts):
        members = graded[graded["grade"] == grade]
        picks = rng.choice(len(members), size=counts[grade], replace=False)
        chosen = members.iloc[np.sort(picks)]
        for entity_id, credit in zip(chosen["entity_id"].tolist(), chosen["credit_score"].tolist(), strict=True):
            score = None if math.isnan(credit) else float(credit)
            drawn.append(DrawnEntity(position=len(drawn), entity_id=str(entity_id), grade=grade, credit_score=score))
    return drawn


def list_draws(
    settings: Settings, *, run_id: str | None = None, algorithms: Collection[str] | None = None, limit: int = 50
) -> list[InspectionDrawSummary]:
    """Draws, newest first, optionally from one run; only draws of ``algorithms`` when given."""
    query = select(InspectionDrawRecord).order_by(InspectionDrawRecord.created_at.desc()).limit(limit)
    if run_id is not None:
        query = query.where(InspectionDrawRecord.run_id == run_id)
    if algorithms is not None:
        query = query.where(InspectionDrawRecord.algorithm.in_(sorted(algorithms)))
    with open_metadata_db(settings) as db, db.session() as session:
        return [_view(record) for record in session.scalars(query)]


def get_draw(settings: Settings, draw_id: str) -> InspectionDraw:
    """One draw with its inspection list in draw order."""
    with open_metadata_db(settings) as db, db.session() as session:
        record = session.get(InspectionDrawRecord, draw_id)
        if record is None:
            raise DrawNotFound(f"no inspection draw {draw_id!r}")
        rows = session.scalars(
            select(InspectionDrawEntity)
            .where(InspectionDrawEntity.draw_id == draw_id)
            .order_by(InspectionDrawEntity.position)
        )
        entities = [
            DrawnEntity(position=row.position, entity_id=row.entity_id, grade=row.grade, credit_score=row.credit_score)
            for row in rows
        ]
        return InspectionDraw(**_view(record).model_dump(), entities=entities)


def _view(record: InspectionDrawRecord) -> InspectionDrawSummary:
    return InspectionDrawSummary(
        id=record.id,
        run_id=record.run_id,
        job_name=record.job_name,
        algorithm=record.algorithm,
        seed=record.seed,
        requested_total=record.requested_total,
        drawn=record.drawn,
        population=json.loads(record.population),
        counts=json.loads(record.counts),
        ratios=json.loads(record.ratios),
        actor=record.actor,
        created_at=as_utc(record.created_at),
    )
