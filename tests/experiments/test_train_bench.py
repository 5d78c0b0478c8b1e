"""experiments/benchmarks/train_bench.py runs end to end on tiny sizes, PyTorch row included (timings
are not checked)."""

import pytest

from experiments.benchmarks import train_bench

TINY = ["--layers", "1", "--d-model", "16", "--heads", "2", "--mlp", "32", "--length", "16", "--batch", "4",
        "--vocab", "50", "--rounds", "1", "--steps-per-round", "1"]


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
