"""Every preset grid of experiments/configs expands into valid runs; the SST-2 recipe trains a few steps."""

import csv
from pathlib import Path

import pytest

from attnjax.models import validate
from experiments import baseline_rows, compare
from experiments import grid as grid_lib

REPO = Path(__file__).resolve().parents[2]

GRID_FILES = sorted({
    *compare.PRESETS.values(), "grid_sst2_accelerator.py", "grid_imdb_accelerator.py", "grid_cnn_dailymail_accelerator.py",
})


@pytest.mark.parametrize("name", GRID_FILES)
def test_every_grid_expands_into_valid_models(name):
    grid = grid_lib.load_grid(REPO / "experiments" / "configs" / name)
    specs = grid_lib.expand(grid)
    rows = sum(len(grid_lib.benchmark_variants(grid, b, grid.variants)) for b in grid.benchmarks)
    assert rows > 0 and len(specs) == rows * len(grid.seeds)
    baseline_rows.check(grid, specs)
    for spec in specs:
        validate({**spec.config.model.to_dict(), "vocab_size": spec.config.data.vocab_size})
        assert max(spec.config.data.bucket_lengths) <= spec.config.model.max_length
    if grid.split == "validation":
        assert all(not spec.config.data.test_split for spec in specs)  # nothing scores a test split there


def test_sst2_recipe_trains_a_few_steps(tmp_path):
    data = tmp_path / "sst2"
    data.mkdir()
    for split, count in (("train", 64), ("dev", 16)):
        with (data / f"{split}.tsv").open("w", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["label", "sentence"])
            writer.writerows((i % 2, ("a fine , moving film" if i % 2 else "a dull , flat film") + " ." * (i % 5)) for i in range(count))
    results = tmp_path / "results"
    args = ["--preset", "sst2", "--data", str(data), "--variants", "additive", "--seeds", "0", "--steps", "2",
            "--set", "train.eval_every=2", "--set", "train.batch_size=16", "--set", "data.bucket_lengths=(16,)",
            "--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(args) == 0
    table = (results / "table.md").read_text()
    assert "| additive |" in table and "| TF-IDF uni+bigrams + logistic regression |" in table


def test_imdb_recipe_trains_a_few_steps_on_bigram_features(tmp_path):
    import gzip
    import json

    data = tmp_path / "imdb"
    data.mkdir()
    for split, count in (("train", 48), ("validation", 12)):
        with gzip.open(data / f"{split}.jsonl.gz", "wt") as f:
            for i in range(count):
                text = ("not bad at all , a fine film .<br /><br />" if i % 2 else "not good at all , a dull film .<br />") * (1 + i % 4)
                f.write(json.dumps({"id": f"{split}{i}", "rating": 8 if i % 2 else 2, "label": i % 2, "text": text}) + "\n")
    results = tmp_path / "results"
    args = ["--preset", "imdb", "--data", str(data), "--variants", "none,scaled_dot", "--seeds", "0", "--steps", "2",
            "--set", "train.eval_every=2", "--set", "train.batch_size=8", "--set", "model.ngram_buckets=512",
            "--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(args) == 0
    table = (results / "table.md").read_text()
    assert "| scaled_dot |" in table and "| TF-IDF uni+bigrams + logistic regression |" in table
    run = next((results / "runs" / "imdb" / "scaled_dot").iterdir())
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["model"]["encoder"] == "bag" and config["data"]["strip_html"]


def _cnn_dailymail_fixture(tmp_path):
    import gzip
    import json

    data = tmp_path / "cnn_dailymail"
    data.mkdir()
    words = "the mayor said on monday that the new bridge over the river will open in june after delays".split()
    for split, count in (("train", 48), ("validation", 6)):
        with gzip.open(data / f"{split}.jsonl.gz", "wt") as f:
            for i in range(count):
                article = " ".join(words[i % 5:] + words[: i % 5]) + " . " + " ".join(words[::-1]) + " ."
                f.write(json.dumps({"article": article, "abstract": f"<s> {' '.join(words[i % 5: i % 5 + 8])} . </s>"}) + "\n")
    return data


def test_cnn_dailymail_recipe_trains_and_beam_decodes_a_few_steps(tmp_path):
    import json

    data = _cnn_dailymail_fixture(tmp_path)
    results = tmp_path / "results"
    args = ["--preset", "cnn_dailymail", "--data", str(data), "--benchmarks", "cnn_dailymail", "--variants", "dot", "--steps", "2",
            "--set", "train.eval_every=2", "--set", "train.batch_size=8", "--set", "data.vocab_size=32",
            "--set", "eval.max_decode_length=12", "--set", "eval.min_decode_length=4",
            "--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(args) == 0
    table = (results / "table.md").read_text()
    assert "| dot |" in table and "| Lead-3 (first 3 sentences) |" in table
    run = next((results / "runs" / "cnn_dailymail" / "dot").iterdir())
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["eval"]["decode"] == "beam" and config["eval"]["no_repeat_ngram_size"] == 3
    predictions = [json.loads(line) for line in (run / "predictions_validation.jsonl").read_text().splitlines()]
    assert len(predictions) == 6 and all(len(p["prediction"].split()) >= 1 for p in predictions)



@pytest.mark.slow
def test_cnn_dailymail_transformer_pointer_benchmark_trains_a_few_steps(tmp_path):
    import json

    data = _cnn_dailymail_fixture(tmp_path)
    results = tmp_path / "results"
    args = ["--preset", "cnn_dailymail", "--data", str(data), "--benchmarks", "cnn_dailymail_transformer",
            "--variants", "multihead_scaled_dot", "--steps", "2", "--set", "train.eval_every=2", "--set", "train.batch_size=8",
            "--set", "data.vocab_size=32", "--set", "eval.max_decode_length=12", "--set", "eval.min_decode_length=4",
            "--results", str(results), "--workers", "1", "--no-plots"]
    assert compare.main(args) == 0
    assert "| multi-head scaled_dot |" in (results / "table.md").read_text()
    run = next((results / "runs" / "cnn_dailymail_transformer" / "multihead_scaled_dot").iterdir())
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["model"]["model"], config["model"]["pointer"]) == ("seq2seq_transformer", True)
