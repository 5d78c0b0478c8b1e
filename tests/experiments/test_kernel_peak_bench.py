"""experiments/benchmarks/kernel_peak_bench.py: its products-only loops compute the kernel's products,
its FLOP count is FlashAttention's, and the table has every row (timings are not checked)."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.benchmarks import kernel_peak_bench as bench


def _qkv(batch=2, length=24, heads=3, dim=4):
    keys = jax.random.split(jax.random.key(0), 3)
    return [jax.random.normal(k, (batch, length, heads, dim), jnp.float32) for k in keys]


def test_products_only_is_the_bilinear_map_and_its_gradients():
    # Without the softmax the kernel's products compute out = (q k^T) v, and its backward products are
    # that map's gradients for d_out = ones: an independent check that no product is missing or doubled.
    q, k, v = _qkv()
    out, (d_q, d_k, d_v) = bench.products_only(q, k, v, qc=8, kc=6, backward=True)
    expected = jnp.einsum("bqhk,bkhd->bqhd", jnp.einsum("bqhd,bkhd->bqhk", q, k), v)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(bench.products_only(q, k, v, qc=8, kc=6, backward=False), expected, rtol=1e-5, atol=1e-4)
    grads = jax.grad(lambda q, k, v: jnp.sum(jnp.einsum("bqhk,bkhd->bqhd", jnp.einsum("bqhd,bkhd->bqhk", q, k), v)),
                     argnums=(0, 1, 2))(q, k, v)
    for got, want in zip((d_q, d_k, d_v), grads):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_flop_count_is_flash_attentions():
    # forward: q k^T and p v, 2 B H L^2 D multiply-adds each; backward: five such products.
    assert bench.attention_flops(1, 10, backward=False, heads=2, head_dim=3) == 4 * 2 * 100 * 3
    assert bench.attention_flops(1, 10, backward=True, heads=2, head_dim=3) == 14 * 2 * 100 * 3


def test_table_has_each_pass_and_contender():
    table = bench.peak_table([(1, 32)], rounds=1, max_seconds=1.0)
    assert "matmul" in table.splitlines()[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| 1x32")]
    passes = {(row[1], row[2].split(" (")[0]) for row in rows}
    assert {("fwd", "chunked scaled_dot"), ("fwd", "products only"), ("fwd+bwd", "chunked scaled_dot"),
            ("fwd+bwd", "products only")} <= passes
    for row in rows:
        assert float(row[4]) > 0 and 0 < float(row[5])  # a rate and a fraction of the peak
    ours = [row for row in rows if row[2] == "chunked scaled_dot"]
    assert all(row[6] == "1.00" for row in ours)


def test_head_groups_compute_the_same_attention():
    import attnjax.ops as ops

    q, k, v = _qkv(batch=2, length=16, heads=4, dim=8)
    want = ops.chunked_attention(q, k, v, score="scaled_dot")
    for group in (1, 2, 8):
        np.testing.assert_allclose(bench.in_head_groups(q, k, v, group), want, rtol=1e-5, atol=1e-5)


def test_bad_head_group_is_refused_before_timing(capsys):
    import pytest

    with pytest.raises(SystemExit):
        bench.main(["--shapes", "1x32", "--head-groups", "3"])
    assert "positive divisor of B*H = 8" in capsys.readouterr().err
