"""The Ray Data executor on a small population: same chunks, same scores, resumes a run the local one began."""

from __future__ import annotations

import pandas as pd
import pytest

from scheduling.executor import execute_run, start_run
from scheduling.jobs import get_run, list_results
from scheduling.specs import RunRequest
from tests.conftest import PREPARED_BUILDINGS
from warehouse.settings import Settings

pytestmark = pytest.mark.integration
CHUNK_ROWS = 100


class Interrupt(Exception):
    """Stops the local executor after some committed chunks."""


def test_ray_finishes_a_run_the_local_executor_began_with_identical_scores(
    settings: Settings, ray_session: None
) -> None:
    from scheduling.ray_executor import execute_run_on_ray

    small_chunks = settings.model_copy(update={"batch_chunk_rows": CHUNK_ROWS})
    committed: list[int] = []

    def stop_after_two(advance: int, total: int | None = None) -> None:
        if total is None:
            committed.append(advance)
            if len(committed) == 2:
                raise Interrupt

    run_id = start_run(small_chunks, RunRequest(algorithm="fire_risk"))
    with pytest.raises(Interrupt):
        execute_run(settings, run_id, on_progress=stop_after_two)
    assert (get_run(settings, run_id).status, get_run(settings, run_id).rows_done) == ("failed", 2 * CHUNK_ROWS)

    report = execute_run_on_ray(settings, run_id, actor_cpus=0.25)
    view = get_run(settings, run_id)
    assert (view.status, view.rows_done, view.rows_written, report.rows) == ("succeeded",) + (PREPARED_BUILDINGS,) * 3
    results = pd.read_parquet(report.output_dir).set_index("building_id")
    assert len(results) == PREPARED_BUILDINGS and results.index.is_unique
    assert len(list(report.output_dir.glob("part-*.parquet"))) == PREPARED_BUILDINGS // CHUNK_ROWS
    assert list_results(settings, run_id, limit=1).total == PREPARED_BUILDINGS

    local = execute_run(settings, start_run(settings, RunRequest(algorithm="fire_risk")))
    expected = pd.read_parquet(local.output_dir).set_index("building_id").loc[results.index]
    assert results["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), abs=1e-9)
    assert (results["level"] == expected["level"]).all()


def _outcome(settings: Settings, run_id: str, report_dir: object) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    from scheduling.alerts import list_alerts

    results = pd.read_parquet(report_dir).set_index("building_id").sort_index()
    alerts = sorted(
        (alert.entity_id, alert.level) for alert in list_alerts(settings, job_name="ray-vs-local", limit=10_000)
    )
    return results, alerts


@pytest.mark.parametrize("features", ["latest", "point-in-time"])
def test_ray_reads_filters_scores_and_alerts_as_the_local_executor_does(
    settings: Settings, ray_session: None, features: str
) -> None:
    """Latest values are read in Ray tasks, point-in-time ones by the driver: either way a filtered run
    with thresholds gives the local executor's rows, parts, commits and alerts (chunks of 100 rows, so
    several read groups and chunks the filter empties)."""
    from features.offline import iter_population_features
    from scheduling.ray_executor import execute_run_on_ray
    from scheduling.specs import WarningThresholds

    small_chunks = settings.model_copy(update={"batch_chunk_rows": CHUNK_ROWS})
    population = pd.concat(iter_population_features(settings, feature_service="fire_risk", chunk_rows=1000))
    districts = sorted(population["district_code"].unique().tolist())[:2]
    request = RunRequest(
        algorithm="fire_risk",
        population_filter={"district_code": districts},
        thresholds=WarningThresholds(score=0.02),
        features=features,  # type: ignore[arg-type]  # the two sources, checked by pydantic
    )
    # The pool and the readers sized by settings (WAREHOUSE_RAY_BATCH_*), not the defaults.
    sized = settings.model_copy(update={"ray_batch_actors": 1, "ray_batch_readers": 3, "ray_batch_cpus": 0.2})
    outcomes = []
    for execute, executing in ((execute_run, settings), (execute_run_on_ray, sized)):
        run_id = start_run(small_chunks, request, job_name="ray-vs-local")
        report = execute(executing, run_id)
        view = get_run(settings, run_id)
        assert (view.status, view.rows_done) == ("succeeded", PREPARED_BUILDINGS)
        outcomes.append((_outcome(settings, run_id, report.output_dir), report.rows))
    (local, local_alerts), local_rows = outcomes[0]
    (ray, ray_alerts), ray_rows = outcomes[1]
    expected = set(population.loc[population["district_code"].isin(districts), "building_id"])
    assert set(ray.index) == set(local.index) == expected and ray_rows == local_rows == len(expected)
    assert ray["score"].to_numpy() == pytest.approx(local["score"].to_numpy(), abs=1e-9)
    assert (ray["level"] == local["level"]).all()
    assert local_alerts and ray_alerts == local_alerts  # the second run updates the open alerts, re-alerts none
