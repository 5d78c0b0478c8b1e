"""experiments/benchmarks/additive_order_bench.py runs end to end on tiny shapes (timings are not checked)."""

import argparse

import pytest

from experiments.benchmarks import additive_order_bench


def test_order_table_times_both_orders_and_names_the_rules_pick():
    table = additive_order_bench.order_table([(2, 1, 8, 1, 4), (4, 16, 32, 2, 4)], rounds=1)
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| 2x") or line.startswith("| 4x")]
    assert [row[0] for row in rows] == ["| 2x1x8x1x4", "| 4x16x32x2x4"]
    assert [row[1] for row in rows] == ["16", "4,096"]
    for row in rows:
        assert all(float(cell) > 0 for cell in (row[2], row[3], row[5], row[6]))
        assert row[4].endswith("x") and row[7].endswith("x")
    assert rows[0][-1] == "rows |" and rows[1][-1] == "rows |"  # under SCAN_MIN_PAIRS, and one query


def test_a_malformed_shape_is_refused_with_the_expected_form():
    with pytest.raises(argparse.ArgumentTypeError, match=r"BxLqxLkxHxA .* got '64x1x50'"):
        additive_order_bench._shape("64x1x50")
