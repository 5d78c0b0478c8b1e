"""Properties every score must have, in both the plain and the chunked attention."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from ops_testing import IMPLEMENTATIONS, init_params, random_qkv, weights_via_identity_values

import attnjax.ops as ops

LENGTHS = jnp.array([5, 2])  # key lengths per batch row (k_len = 5)


def _padding(k_len=5):
    return ops.key_padding_mask(ops.padding_mask(LENGTHS, k_len))


def test_weights_sum_to_one_and_masked_keys_get_zero(impl, score_name):
    q, k, _ = random_qkv()
    params = init_params(score_name)
    weights = weights_via_identity_values(impl, q, k, mask=_padding(), score=score_name, score_params=params)
    key_valid = np.asarray(ops.padding_mask(LENGTHS, 5))  # [B, Lk]
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    masked = np.broadcast_to(~key_valid[:, None, None, :], weights.shape)
    assert np.all(np.asarray(weights)[masked] == 0.0)


def test_causal_weights_are_zero_above_the_diagonal(impl, score_name):
    q, k, _ = random_qkv(q_len=6, k_len=6)
    weights = weights_via_identity_values(
        impl, q, k, is_causal=True, score=score_name, score_params=init_params(score_name)
    )
    upper = np.triu(np.ones((6, 6), bool), k=1)
    assert np.all(np.asarray(weights)[..., upper] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_plain_returns_the_weights_it_uses(score_name):
    q, k, v = random_qkv()
    params = init_params(score_name)
    out, weights = ops.attention(q, k, v, mask=_padding(), score=score_name, score_params=params,
                                 return_weights=True)
    assert weights.shape == (2, 2, 7, 5) and weights.dtype == jnp.float32
    np.testing.assert_allclose(out, jnp.einsum("bhqk,bkhd->bqhd", weights, v), atol=1e-5)


def test_fully_masked_rows_give_zeros_and_zero_finite_gradients(impl, score_name):
    q, k, v = random_qkv()
    params = init_params(score_name)
    # Batch row 1 has no valid key at all; in row 0, query 3 is masked out.
    mask = np.ones((2, 1, 7, 5), bool)
    mask[1] = False
    mask[0, :, 3] = False
    mask = jnp.asarray(mask)

    def loss(q, k, v, params):
        out = impl(q, k, v, mask=mask, score=score_name, score_params=params)
        return jnp.sum(out**2), out

    (value, out), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(q, k, v, params)
    assert np.all(np.asarray(out[1]) == 0.0)
    assert np.all(np.asarray(out[0, 3]) == 0.0)
    for g in jax.tree.leaves(grads):
        assert np.all(np.isfinite(g))
    dq, dk, dv, _ = grads
    assert np.all(np.asarray(dq[1]) == 0.0) and np.all(np.asarray(dk[1]) == 0.0)
    assert np.all(np.asarray(dv[1]) == 0.0) and np.all(np.asarray(dq[0, 3]) == 0.0)
    assert np.isfinite(value)


def test_minus_inf_bias_is_masking(impl, score_name):
    q, k, v = random_qkv()
    params = init_params(score_name)
    mask = _padding()
    bias = jnp.where(mask, 0.0, -jnp.inf)
    np.testing.assert_allclose(
        impl(q, k, v, bias=bias, score=score_name, score_params=params),
        impl(q, k, v, mask=mask, score=score_name, score_params=params),
        atol=1e-6,
    )


@pytest.mark.parametrize("eager", [
    ops.attention, functools.partial(ops.chunked_attention, query_chunk_size=4, key_chunk_size=3),
], ids=["plain", "chunked"])
def test_jit_equals_eager(eager, score_name):
    q, k, v = random_qkv()
    params = init_params(score_name)
    mask = _padding()

    def f(q, k, v, params):
        return eager(q, k, v, mask=mask, is_causal=True, score=score_name, score_params=params)

    np.testing.assert_allclose(jax.jit(f)(q, k, v, params), f(q, k, v, params), atol=1e-6)


def test_vmap_over_an_extra_axis(impl, score_name):
    q, k, v = random_qkv(batch=6)
    params = init_params(score_name)
    split = lambda x: x.reshape(3, 2, *x.shape[1:])  # noqa: E731
    f = lambda q, k, v: impl(q, k, v, score=score_name, score_params=params)  # noqa: E731
    np.testing.assert_allclose(
        jax.vmap(f)(split(q), split(k), split(v)).reshape(6, 7, 2, 8), f(q, k, v), atol=1e-6
    )


def test_gradients_match_finite_differences(impl, score_name):
    q, k, v = random_qkv(batch=1, q_len=5, k_len=4, head_dim=4)
    params = init_params(score_name, head_dim=4)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([3]), 4))
    bias = 0.1 * jax.random.normal(jax.random.key(3), (1, 2, 5, 4))

    def f(q, k, v, params, bias):
        return impl(q, k, v, bias=bias, mask=mask, score=score_name, score_params=params)

    check_grads(jax.jit(f), (q, k, v, params, bias), order=1, modes=["rev"], atol=2e-2, rtol=2e-2, eps=1e-3)


def test_bfloat16_is_finite_and_close_to_float32(impl, score_name):
    q, k, v = random_qkv(q_len=16, k_len=16, head_dim=16)
    params = init_params(score_name, head_dim=16)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([16, 9]), 16))
    ref = impl(q, k, v, mask=mask, score=score_name, score_params=params)
    low = impl(*(x.astype(jnp.bfloat16) for x in (q, k, v)), mask=mask, score=score_name,
               score_params=params)
    assert low.dtype == jnp.bfloat16
    assert np.all(np.isfinite(np.asarray(low, np.float32)))
    np.testing.assert_allclose(np.asarray(low, np.float32), ref, atol=0.1, rtol=0.05)


def test_plain_and_chunked_agree_forward_and_backward(score_name):
    q, k, v = random_qkv(q_len=13, k_len=11, heads=4, kv_heads=2)
    params = init_params(score_name, heads=4)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([11, 6]), 11))
    bias = 0.5 * jax.random.normal(jax.random.key(5), (1, 4, 13, 11))

    def loss(impl):
        def f(q, k, v, params, bias):
            out = impl(q, k, v, bias=bias, mask=mask, is_causal=True, score=score_name,
                       score_params=params)
            return jnp.sum(jnp.sin(out)), out
        return jax.value_and_grad(f, argnums=(0, 1, 2, 3, 4), has_aux=True)(q, k, v, params, bias)

    (_, out_plain), grads_plain = loss(IMPLEMENTATIONS["plain"])
    (_, out_chunked), grads_chunked = loss(IMPLEMENTATIONS["chunked"])
    np.testing.assert_allclose(out_chunked, out_plain, atol=1e-5)
    for gc, gp in zip(jax.tree.leaves(grads_chunked), jax.tree.leaves(grads_plain)):
        np.testing.assert_allclose(gc, gp, atol=1e-4, rtol=1e-4)


def test_grouped_kv_heads_equal_repeated_heads(impl, score_name):
    q, k, v = random_qkv(heads=4, kv_heads=2)
    params = init_params(score_name, heads=4)
    grouped = impl(q, k, v, score=score_name, score_params=params)
    repeated = impl(q, jnp.repeat(k, 2, axis=2), jnp.repeat(v, 2, axis=2), score=score_name,
                    score_params=params)
    np.testing.assert_allclose(grouped, repeated, atol=1e-6)


def test_dropout_needs_rng_and_is_off_when_deterministic(impl):
    q, k, v = random_qkv()
    with pytest.raises(ValueError, match="dropout_rng"):
        impl(q, k, v, dropout_rate=0.5)
    np.testing.assert_allclose(
        impl(q, k, v, dropout_rate=0.5, deterministic=True), impl(q, k, v), atol=1e-6
    )


def test_dropout_zeroes_weights_and_keeps_the_expectation(impl):
    q, k, _ = random_qkv(batch=1, q_len=8, k_len=8, heads=1)
    weights = weights_via_identity_values(impl, q, k)
    n, rate = 1000, 0.25
    rngs = jax.random.split(jax.random.key(7), n)
    dropped = jax.vmap(
        lambda r: weights_via_identity_values(impl, q, k, dropout_rate=rate, dropout_rng=r)
    )(rngs)
    zero_fraction = float(jnp.mean(dropped == 0.0))
    assert 0.22 < zero_fraction < 0.28
    # Each sample is w * Bernoulli(1 - rate) / (1 - rate): unbiased, std w * sqrt(rate / (1 - rate)).
    five_sigma = 5 * np.asarray(weights) * np.sqrt(rate / (1 - rate)) / np.sqrt(n)
    assert np.all(np.abs(np.asarray(dropped.mean(0)) - np.asarray(weights)) <= five_sigma + 1e-6)
    # Same rng, same mask: dropout is a pure function of its rng.
    again = weights_via_identity_values(impl, q, k, dropout_rate=0.25, dropout_rng=rngs[0])
    np.testing.assert_array_equal(again, dropped[0])


def test_chunked_dropout_gradient_uses_the_forward_mask():
    q, k, v = random_qkv(batch=1, q_len=5, k_len=4, head_dim=4)
    f = lambda q, k, v: IMPLEMENTATIONS["chunked"](  # noqa: E731
        q, k, v, dropout_rate=0.3, dropout_rng=jax.random.key(2), broadcast_dropout=False
    )
    check_grads(jax.jit(f), (q, k, v), order=1, modes=["rev"], atol=2e-2, rtol=2e-2, eps=1e-3)


@pytest.mark.slow
def test_chunked_bias_gradient_with_broadcast_dims():
    q, k, v = random_qkv(q_len=9, k_len=7)
    for shape in [(1, 1, 9, 7), (2, 1, 1, 7), (1, 2, 9, 1), (2, 2, 9, 7)]:
        bias = jax.random.normal(jax.random.key(1), shape)

        def grad(impl):
            return jax.grad(lambda b: jnp.sum(jnp.cos(impl(q, k, v, bias=b, is_causal=True))))(bias)

        np.testing.assert_allclose(
            grad(IMPLEMENTATIONS["chunked"]), grad(IMPLEMENTATIONS["plain"]), atol=1e-5, err_msg=str(shape)
        )


@pytest.mark.parametrize("chunks", [(1, 1), (2, 5), (16, 16), (3, 64)])
def test_chunked_is_exact_for_any_chunk_sizes(chunks):
    q, k, v = random_qkv(q_len=10, k_len=12)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([12, 7]), 12))
    expected = ops.attention(q, k, v, mask=mask, is_causal=True)
    got = ops.chunked_attention(q, k, v, mask=mask, is_causal=True, query_chunk_size=chunks[0],
                                key_chunk_size=chunks[1])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_sow_weights_through_module_argument():
    class Recorder:
        def sow(self, collection, name, value):
            self.record = (collection, name, value)

    q, k, v = random_qkv()
    recorder = Recorder()
    _, weights = ops.attention(q, k, v, module=recorder, return_weights=True)
    assert recorder.record[:2] == ("intermediates", "attention_weights")
    np.testing.assert_array_equal(recorder.record[2], weights)


@pytest.mark.parametrize("q_len,k_len", [(0, 5), (7, 0), (0, 0)])
def test_zero_length_queries_or_keys_give_zeros_and_zero_gradients_as_jax_nn(impl, score_name, q_len, k_len):
    q, k, v = random_qkv(q_len=q_len, k_len=k_len)
    params = init_params(score_name)
    mask = jnp.ones((2, 1, 1, k_len), bool)

    def loss(q, k, v, params):
        return impl(q, k, v, mask=mask, score=score_name, score_params=params).sum()

    out = impl(q, k, v, mask=mask, score=score_name, score_params=params)
    expected = jax.nn.dot_product_attention(q, k, v)
    assert out.shape == expected.shape == (2, q_len, 2, 8) and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    grads = jax.grad(loss, argnums=(0, 1, 2, 3))(q, k, v, params)
    for g, x in zip(jax.tree.leaves(grads), jax.tree.leaves((q, k, v, params))):
        assert g.shape == x.shape and np.all(np.asarray(g) == 0.0)


def test_plain_with_no_keys_returns_empty_weights():
    q, k, v = random_qkv(k_len=0)
    out, weights = ops.attention(q, k, v, return_weights=True)
    assert out.shape == (2, 7, 2, 8) and weights.shape == (2, 2, 7, 0)
