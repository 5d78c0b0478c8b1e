"""experiments/benchmarks/train_bench.py runs end to end on tiny sizes, PyTorch row included (timings
are not checked)."""

import pytest

from experiments.benchmarks import train_bench

TINY = ["--layers", "1", "--d-model", "16", "--heads", "2", "--mlp", "32", "--length", "16", "--batch", "4",
        "--vocab", "50", "--rounds", "1", "--steps-per-round", "1"]


@pytest.mark.slow  # a benchmark smoke test (20-45 s on 2 cores): -m slow runs it
def test_tiny_run_times_ours_flax_and_torch_eager(capsys):
    pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[bench]')")
    results = train_bench.main(TINY + ["--torch", "eager"])
    assert results["ours"]["num_params"] == results["flax"]["num_params"] == results["torch eager"]["num_params"]
    for name in ("ours", "flax", "torch eager"):
        assert results[name]["step_seconds_median"] > 0
    assert results["speed_ratio_ours_over_torch_eager"] > 0 and results["matmul_flops_per_second"] > 0
    assert "| torch eager |" in capsys.readouterr().out


def test_tiny_run_without_torch():
    results = train_bench.main(TINY + ["--torch"])
    assert "torch eager" not in results and results["speed_ratio_ours_over_flax"] > 0


def test_profile_names_the_costliest_ops_of_our_step(tmp_path, capsys):
    results = train_bench.main(TINY + ["--torch", "--profile", str(tmp_path)])
    rows = results["profile_ours"]
    assert rows and all(row["ms_per_step"] > 0 and 0 < row["share"] <= 1 for row in rows)
    assert [row["ms_per_step"] for row in rows] == sorted((row["ms_per_step"] for row in rows), reverse=True)
    # Each op is traced back to the model operation it computes.
    assert any("Classifier" in row["source"] for row in rows)
    assert list(tmp_path.rglob("perfetto_trace.json.gz"))
    assert "costliest XLA ops" in capsys.readouterr().out
