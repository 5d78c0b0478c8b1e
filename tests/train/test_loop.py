"""train_and_evaluate end to end on tiny built-in tasks: results, logs, workdir rules, bad configs."""

import json
import time

import pytest

from attnjax.train import provenance, read_log, train_and_evaluate
from train_testing import tiny_classification


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    config = tiny_classification(steps=12)
    return config, workdir, train_and_evaluate(config, workdir)


def test_results_hold_metrics_timings_and_test(finished):
    _, workdir, results = finished
    assert results["steps"] == 12 and results["resumed_from_step"] == 0
    assert set(results["validation"]) >= {"accuracy", "macro_f1", "loss"}
    assert results["best"]["metric"] == "accuracy" and results["best"]["step"] in (4, 8, 12)
    assert results["test"]["params_from_step"] == results["best"]["step"]
    assert 0.0 <= results["test"]["accuracy"] <= 1.0
    assert results["num_params"] > 0
    assert results["code"] == provenance.code_version()  # which code trained it (a run key hashes the config only)
    timing = results["timing"]
    assert timing["compile_seconds"] > 0 and timing["train_seconds"] > 0 and timing["tokens_per_second"] > 0
    assert json.loads((workdir / "results.json").read_text()) == json.loads(json.dumps(results))
    assert (workdir / "tokenizer" / "tokenizer.json").exists() or any((workdir / "tokenizer").iterdir())


def test_log_has_train_validation_and_test_records(finished):
    _, workdir, _ = finished
    records = list(read_log(workdir))
    train_steps = [r["step"] for r in records if r["split"] == "train"]
    assert train_steps == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in records if r["split"] == "validation"] == [4, 8, 12]
    assert [r["split"] for r in records][-1] == "test"
    first = next(r for r in records if r["split"] == "train")
    assert {"loss", "accuracy", "grad_norm", "learning_rate", "tokens_per_second", "step_time"} <= set(first)


def test_checkpoints_latest_and_best(finished):
    _, workdir, results = finished
    latest = sorted(int(p.name) for p in (workdir / "checkpoints" / "latest").iterdir() if p.name.isdigit())
    assert latest == [8, 12]  # keep_checkpoints=2
    best = [int(p.name) for p in (workdir / "checkpoints" / "best").iterdir() if p.name.isdigit()]
    assert best == [results["best"]["step"]]


def test_rerun_returns_stored_results_without_training(finished):
    config, workdir, results = finished
    before = (workdir / "metrics.jsonl").read_text()
    start = time.perf_counter()
    again = train_and_evaluate(config, workdir)
    assert time.perf_counter() - start < 5
    assert again == json.loads(json.dumps(results))
    assert (workdir / "metrics.jsonl").read_text() == before


def test_another_config_is_refused_and_nothing_is_touched(finished):
    config, workdir, _ = finished
    other = tiny_classification(steps=12)
    other.optimizer.learning_rate = 0.5
    before = (workdir / "results.json").read_text()
    with pytest.raises(FileExistsError, match=r"optimizer.learning_rate: 0.001 -> 0.5.*overwrite"):
        train_and_evaluate(other, workdir)
    assert (workdir / "results.json").read_text() == before


@pytest.mark.slow
def test_overwrite_starts_again(tmp_path):
    config = tiny_classification(steps=2, train__eval_every=2, train__checkpoint_every=2)
    train_and_evaluate(config, tmp_path)
    config.seed = 1
    results = train_and_evaluate(config, tmp_path, overwrite=True)
    assert results["config"]["seed"] == 1
    assert [r["split"] for r in read_log(tmp_path)].count("test") == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"trian": {"steps": 1}}, r"unknown field 'trian' in config; did you mean 'train'\? config has: data, eval"),
        ({"model": {"attention": "luong"}}, r"config.model.attention='luong' is not allowed; expected one of: .*additive"),
        ({"eval": {"best_metric": "rouge1"}}, r"best_metric='rouge1' is not a classification metric; expected one of: accuracy"),
        ({"train": {"batch_size": 0}}, r"config.train.batch_size=0; expected a positive integer"),
        ({"model": {"max_length": 32}}, r"config.model.max_length=32 is shorter than the longest sequence the run feeds \(64"),
        ({"task": "summarization", "eval": {"best_metric": "loss"}}, r"reads summarization data but data source 'builtin:sentiment' is a 'classification'"),
        ({"model": {"num_classes": 1}}, r"has 2 labels \(negative, positive\) but config.model.num_classes=1; set config.model.num_classes=2"),
        ({"optimizer": {"schedule": "linear"}}, r"config.optimizer.schedule='linear' is unknown.*; expected one of: cosine, rsqrt, constant"),
        ({"task": "regression"}, r"config.task='regression' is unknown; expected one of: classification, summarization"),
        ({"eval": {"no_repeat_ngram_size": -1}}, r"config.eval.no_repeat_ngram_size=-1; expected 0 \(off\) or a positive integer"),
        ({"eval": {"min_decode_length": -2}}, r"config.eval.min_decode_length=-2; expected 0 \(off\) or a positive integer"),
        ({"eval": {"min_decode_length": 40}}, r"config.eval.min_decode_length=40 is longer than config.eval.max_decode_length=32; lower"),
    ],
)
def test_bad_config_fails_before_training(tmp_path, change, message):
    config = tiny_classification(steps=2).to_dict()
    for group, value in change.items():
        if isinstance(value, dict) and group in config:
            config[group].update(value)
        else:
            config[group] = value
    config["eval"].update(change.get("eval", {}))
    with pytest.raises(ValueError, match=message):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # checked before anything is written, or undone


@pytest.mark.slow
def test_summarization_decodes_and_scores_rouge(tmp_path):
    from train_testing import tiny_summarization

    results = train_and_evaluate(tiny_summarization(steps=8), tmp_path)
    validation = results["validation"]
    assert {"loss", "perplexity", "rouge1", "rouge2", "rougeL", "rougeLsum"} <= set(validation)
    assert validation["decoded"] == 8  # eval.max_decode_examples
    assert 0.0 <= validation["rougeL"] <= 100.0 and validation["perplexity"] > 1.0
    assert 0.0 <= validation["repeated_trigrams"] <= 1.0
    assert results["best"]["metric"] == "rougeL" and results["test"]["decoded"] == 8


def test_a_coverage_phase_that_never_starts_is_refused(tmp_path):
    from train_testing import tiny_summarization

    config = tiny_summarization(steps=4, model__coverage=True, model__coverage_start_step=4)
    with pytest.raises(ValueError, match=r"coverage_start_step=4 is not below config.train.num_steps=4: coverage would never"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_coverage_trains_from_its_start_step(tmp_path):
    # w_c starts at zero and is held there before coverage_start_step (tests/models/test_coverage.py):
    # that it moved in a run whose last step is the first with coverage shows the loop hands the
    # loss the real step.
    import jax
    import numpy as np

    from attnjax.train import load_run
    from train_testing import tiny_summarization

    config = tiny_summarization(steps=4, model__coverage=True, model__coverage_start_step=3)
    train_and_evaluate(config, tmp_path)
    params = load_run(tmp_path, "latest").params
    coverage = [x for path, x in jax.tree_util.tree_flatten_with_path(params)[0]
                if any(getattr(k, "key", None) == "coverage" for k in path)]
    assert coverage and all(np.abs(np.asarray(x)).max() > 0 for x in coverage)
    assert "coverage_loss" in next(iter(read_log(tmp_path)))
