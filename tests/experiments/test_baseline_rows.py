"""experiments/baseline_rows.py: the TF-IDF + logistic regression row is fitted on train, scored on
the grid's split by the table code, never reads test labels, and fails early when it cannot run."""

import csv
import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from attnjax.data import local
from attnjax.train.baselines import tfidf_logistic_regression
from experiments import baseline_rows, compare
from experiments import grid as grid_lib

REPO = Path(__file__).resolve().parents[2]

GRID = '''
import ml_collections
from attnjax.train import default_config


def get_config():
    config = default_config()
    config.data.source = DATA
    config.data.test_split = ""  # as SST-2: the table reports validation
    config.data.max_length = 16
    config.data.bucket_lengths = (16,)
    config.model.d_model = 16
    config.model.num_layers = 1
    config.model.mlp_dim = 16
    config.model.pooling = "attention"
    config.model.max_length = 16
    config.train.batch_size = 16
    config.train.num_steps = 2
    config.train.eval_every = 2
    config.train.checkpoint_every = 2
    config.eval.batch_size = 64
    config.optimizer.warmup_steps = 1
    grid = ml_collections.ConfigDict()
    grid.name = "toy"
    grid.variants = ("scaled_dot",)
    grid.seeds = (0,)
    grid.heads = 2
    grid.split = "validation"
    grid.benchmarks = {"toy": config}
    grid.baselines = {"toy": BASELINES}
    return grid
'''

POSITIVE, NEGATIVE = ("great", "moving", "fun", "superb"), ("dull", "boring", "flat", "tedious")
FILLER = ("the", "film", "plot", "cast", "story", "ending", "a", "scene")


def _rows(rng, count, sentiment_words=True):
    rows = []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, 3))
        if sentiment_words:
            words.insert(int(rng.integers(4)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        rows.append((label, " ".join(words)))
    return rows


def _write(path: Path, rows) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["label", "sentence"])
        writer.writerows(rows)


@pytest.fixture
def toy(tmp_path):
    """A local SST-2-like data set: train, validation (30 clear + 10 sentiment-free sentences) and a
    test split whose labels are not in the label set, so reading them fails loudly."""
    rng = np.random.default_rng(0)
    data = tmp_path / "toy"
    data.mkdir()
    train, validation = _rows(rng, 200), _rows(rng, 30) + _rows(rng, 10, sentiment_words=False)
    _write(data / "train.tsv", train)
    _write(data / "dev.tsv", validation)
    _write(data / "test.tsv", [("hidden", "great film")] * 5)
    return data, train, validation


def _grid(tmp_path, data, baselines=("tfidf_logreg",)) -> Path:
    path = tmp_path / "toy_grid.py"
    path.write_text(GRID.replace("DATA", repr(str(data))).replace("BASELINES", repr(tuple(baselines))))
    return path


def test_tfidf_row_is_fitted_on_train_and_scored_by_the_table(tmp_path, toy, monkeypatch):
    data, train, validation = toy
    read = []
    original = local.read_examples
    monkeypatch.setattr(local, "read_examples", lambda path, *a, **k: read.append(Path(path).name) or original(path, *a, **k))
    results = tmp_path / "results"
    assert compare.main(["--config", str(_grid(tmp_path, data)), "--results", str(results), "--workers", "1", "--no-plots"]) == 0
    assert read and "test.tsv" not in read  # neither the trained run nor the baseline reads test labels

    predictions = tfidf_logistic_regression([t for _, t in train], [y for y, _ in train], [t for _, t in validation])
    correct = predictions == np.array([y for y, _ in validation])
    assert correct[:30].all()  # the clear sentences; the sentiment-free ten are guesses
    expected = 100 * correct.mean()

    (record,) = [json.loads(line) for line in (results / "baselines.jsonl").read_text().splitlines()]
    assert record["name"] == "tfidf_logreg" and record["split"] == "validation" and record["count"] == 40
    stored = [json.loads(line) for line in (results / record["workdir"] / "predictions_validation.jsonl").read_text().splitlines()]
    assert [r["prediction"] for r in stored] == predictions.tolist()
    row = next(line for line in (results / "table.md").read_text().splitlines() if line.startswith("| TF-IDF"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["TF-IDF uni+bigrams + logistic regression", f"{expected:.1f}"]
    assert cells[2].count("[") == 1  # paired against the scaled_dot run, like a trained row
    csv_row = next(r for r in csv.DictReader((results / "table.csv").open()) if r["variant"] == "tfidf_logreg")
    assert float(csv_row["mean"]) == pytest.approx(expected, abs=1e-4) and csv_row["metric"] == "accuracy"


def test_baseline_rows_fail_before_training(tmp_path, toy, monkeypatch, capsys):
    data = toy[0]
    results = tmp_path / "results"
    args = ["--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(["--config", str(_grid(tmp_path, data, ("lead_3",)))] + args) == 2
    assert re.search("'lead_3', a summarization baseline, but benchmark 'toy' trains classification.*tfidf_logreg", capsys.readouterr().err)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # scikit-learn not installed
    with pytest.raises(ImportError, match=r"needs scikit-learn.*pip install 'attnjax\[baselines\]'"):
        compare.main(["--config", str(_grid(tmp_path, data))] + args)
    assert not results.exists()  # nothing trained, nothing written


def test_tfidf_rejects_bad_inputs():
    with pytest.raises(ValueError, match="2 entries but train_labels 1"):
        tfidf_logistic_regression(["a b", "c d"], [0], ["a"])
    with pytest.raises(ValueError, match="1 distinct class"):
        tfidf_logistic_regression(["a b", "c d"], [1, 1], ["a"])
    with pytest.raises(ValueError, match="single str"):
        tfidf_logistic_regression(["a b", "c d"], [0, 1], "a b")


def test_lead_row_shares_the_mechanism(tmp_path):
    grid = grid_lib.load_grid(REPO / "experiments" / "configs" / "compare_builtin.py")
    specs = grid_lib.expand(
        grid, benchmarks=["events"], variants=["scaled_dot"], seeds=[0],
        overrides=[("data.options.num_examples", {"train": 8, "validation": 8, "test": 30})],
    )
    baseline_rows.check(grid, specs)
    (record,) = baseline_rows.compute(grid, specs, tmp_path)
    assert record["name"] == "lead_1" and record["split"] == "test" and record["count"] == 30
    stored = [json.loads(line) for line in (tmp_path / record["workdir"] / "predictions_test.jsonl").read_text().splitlines()]
    assert [r["index"] for r in stored] == list(range(30))
    assert np.mean([r["rouge1"] for r in stored]) == pytest.approx(record["metrics"]["rouge1"])
    assert baseline_rows.compute(grid, specs, tmp_path) == [record]  # cached


def _noisy_texts(count: int, seed: int):
    """Texts whose label a few words lean towards, with 20% of the labels flipped: an optimum with
    many non-zero weights, which a loose fit stops short of."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(300)]
    lean = rng.normal(0, 1, len(vocabulary))
    texts, labels = [], []
    for _ in range(count):
        words = rng.choice(len(vocabulary), int(rng.integers(3, 12)))
        label = int(lean[words].sum() + rng.normal(0, 2) > 0)
        texts.append(" ".join(vocabulary[w] for w in words))
        labels.append(label if rng.random() > 0.2 else 1 - label)
    return texts, labels


def test_tfidf_fit_reaches_the_optimum_of_its_loss():
    from attnjax.train.baselines import fit_tfidf_logistic_regression

    texts, labels = _noisy_texts(3000, 0)
    vectorizer, model = fit_tfidf_logistic_regression(texts, labels, c=10.0)
    x = vectorizer.transform(texts)
    y = np.asarray(labels, float)
    w, b = model.coef_[0], model.intercept_[0]
    # The gradient of C * sum(log loss) + |w|^2 / 2 (the intercept unpenalised), written out here.
    p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
    grad_w = 10.0 * (x.T @ (p - y)) + w
    grad_b = 10.0 * (p - y).sum()
    scale = 10.0 * len(texts)  # the per-example scale of the loss
    assert max(np.abs(grad_w).max(), abs(grad_b)) / scale < 1e-6
    # The same data through the row's predict function: the same optimum, the same predictions.
    np.testing.assert_array_equal(tfidf_logistic_regression(texts, labels, texts[:200]), model.predict(x[:200]))


def test_a_revised_baseline_is_not_read_from_an_older_cache(tmp_path, toy, monkeypatch):
    data = toy[0]
    results = tmp_path / "results"
    args = ["--config", str(_grid(tmp_path, data)), "--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(args) == 0
    (first,) = [json.loads(line) for line in (results / "baselines.jsonl").read_text().splitlines()]
    revised = baseline_rows.BASELINES.get("tfidf_logreg")
    monkeypatch.setitem(baseline_rows.BASELINES._items, "tfidf_logreg", dataclasses.replace(revised, revision=revised.revision + 1))
    assert compare.main(args) == 0
    (second,) = [json.loads(line) for line in (results / "baselines.jsonl").read_text().splitlines()]
    assert second["workdir"] != first["workdir"] and (results / first["workdir"]).exists()
    assert (results / second["workdir"] / "result.json").exists()
