"""experiments/benchmarks/attention_bench.py runs end to end on tiny shapes (timings are not checked)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from experiments.benchmarks import attention_bench

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a benchmark smoke test (20-45 s on 2 cores): -m slow runs it
def test_speed_table_has_every_contender_and_ratio():
    table = attention_bench.speed_table([(1, 32)], ["scaled_dot", "additive"], rounds=2, max_seconds=5.0,
                                        chunks=(16, 16), implementation=None)
    rows = [line for line in table.splitlines() if line.startswith("| 1x32")]
    names = {row.split(" | ")[2] for row in rows}
    assert {"jax.nn.dot_product_attention", "scaled_dot plain", "scaled_dot chunked", "additive chunked"} <= names
    for row in rows:
        ratio = row.split(" | ")[4]
        assert ratio.endswith("x") and float(ratio[:-1]) > 0, row
    vs_scaled_dot = {row.split(" | ")[2]: row.split(" | ")[5] for row in rows}
    assert vs_scaled_dot["scaled_dot chunked"] == "1.00x" and vs_scaled_dot["jax.nn.dot_product_attention"] == "-"
    assert float(vs_scaled_dot["additive chunked"][:-1]) > 0


def test_contenders_time_only_the_implementations_asked_for():
    contenders = attention_bench._contenders(1, 16, ["scaled_dot", "additive"], backward=False, chunks=(8, 8),
                                             implementation=None, ours=("chunked",))
    names = [c.name for c in contenders]
    assert names[0] == "jax.nn.dot_product_attention"
    assert [n for n in names if n.endswith(("plain", "chunked"))] == ["scaled_dot chunked", "additive chunked"]


def test_peak_rss_is_this_process_not_the_parent():
    # A parent that grew large must not raise the child's starting peak (ru_maxrss survives exec).
    big = np.ones(2**30 // 8)  # 1 GiB in the parent
    code = "from experiments.benchmarks import attention_bench as b; print(b._peak_rss_bytes())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert int(out.stdout.strip()) < big.nbytes


def test_tanh_rate_line_reports_a_positive_rate():
    line = attention_bench.tanh_rate(rounds=1)
    assert line.startswith("XLA tanh rate: sum_j tanh(x_i + y_j) at ") and line.endswith("terms\n")
    assert float(line.split(" at ")[1].split(" G")[0]) > 0
