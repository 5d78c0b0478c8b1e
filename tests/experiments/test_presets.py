"""Every preset grid of experiments/configs expands into valid runs; the SST-2 recipe trains a few steps."""

import csv
from pathlib import Path

import pytest

from attnjax.models import validate
from experiments import baseline_rows, compare
from experiments import grid as grid_lib

REPO = Path(__file__).resolve().parents[2]

GRID_FILES = sorted({*compare.PRESETS.values(), "grid_sst2_accelerator.py", "grid_imdb_accelerator.py"})


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
