"""Per-example evaluation records: ``predictions_<split>.jsonl`` agree with the split's metrics."""

import json

import numpy as np
import pytest

from attnjax.train import train_and_evaluate
from train_testing import tiny_classification, tiny_summarization


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cls")
    return workdir, train_and_evaluate(tiny_classification(steps=8), workdir)


def test_classification_records_match_metrics(classification_run):
    workdir, results = classification_run
    records = _lines(workdir / "predictions_validation.jsonl")
    assert [r["index"] for r in records] == list(range(64))  # every validation example, in order
    assert np.mean([r["correct"] for r in records]) == pytest.approx(results["best"]["metrics"]["accuracy"])
    assert all(1 <= r["input_length"] <= 64 for r in records)
    test = _lines(workdir / "predictions_test.jsonl")
    assert np.mean([r["correct"] for r in test]) == pytest.approx(results["test"]["accuracy"])


def test_step_memory_is_reported(classification_run):
    _, results = classification_run
    assert results["memory"]["train_step_bytes"] > 0


@pytest.mark.slow
def test_summarization_records_match_rouge(tmp_path):
    results = train_and_evaluate(tiny_summarization(steps=4), tmp_path)
    records = _lines(tmp_path / "predictions_validation.jsonl")
    assert len(records) == results["best"]["metrics"]["decoded"] == 8
    for name in ("rouge1", "rouge2", "rougeL"):
        assert np.mean([r[name] for r in records]) == pytest.approx(results["best"]["metrics"][name])
    assert all(isinstance(r["prediction"], str) for r in records)
