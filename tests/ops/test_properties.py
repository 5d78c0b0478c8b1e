"""Hypothesis property tests over random shapes, lengths, masks and chunk sizes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_testing import SCORE_NAMES, jit_attention, jit_chunked_attention, weights_via_identity_values

import attnjax.ops as ops


@st.composite
def attention_problems(draw):
    batch = draw(st.integers(1, 2))
    kv_heads = draw(st.integers(1, 2))
    heads = kv_heads * draw(st.integers(1, 2))
    head_dim = draw(st.sampled_from([2, 4]))
    q_len = draw(st.integers(1, 9))
    k_len = draw(st.integers(1, 9))
    lengths = draw(st.lists(st.integers(0, k_len), min_size=batch, max_size=batch))
    seed = draw(st.integers(0, 2**16))
    return dict(
        batch=batch, heads=heads, kv_heads=kv_heads, head_dim=head_dim, q_len=q_len, k_len=k_len,
        lengths=lengths, seed=seed, causal=draw(st.booleans()), score=draw(st.sampled_from(SCORE_NAMES)),
        q_chunk=draw(st.integers(1, 10)), k_chunk=draw(st.integers(1, 10)),
    )


def _inputs(p):
    kq, kk, kv, kp = jax.random.split(jax.random.key(p["seed"]), 4)
    q = jax.random.normal(kq, (p["batch"], p["q_len"], p["heads"], p["head_dim"]))
    k = jax.random.normal(kk, (p["batch"], p["k_len"], p["kv_heads"], p["head_dim"]))
    v = jax.random.normal(kv, (p["batch"], p["k_len"], p["kv_heads"], 3))
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array(p["lengths"]), p["k_len"]))
    params = ops.get_score(p["score"]).init(kp, p["heads"], p["head_dim"])
    return q, k, v, mask, params


def _expected_valid(p):
    """[B, 1, Lq, Lk] numpy bool: which keys each query may attend."""
    key_valid = np.arange(p["k_len"])[None, :] < np.array(p["lengths"])[:, None]
    valid = np.broadcast_to(key_valid[:, None, None, :], (p["batch"], 1, p["q_len"], p["k_len"]))
    if p["causal"]:
        valid = valid & np.tril(np.ones((p["q_len"], p["k_len"]), bool))
    return valid


@pytest.mark.slow
@settings(max_examples=15)
@given(attention_problems())
def test_plain_and_chunked_weights_are_the_same_distribution_over_valid_keys(p):
    q, k, v, mask, params = _inputs(p)
    kwargs = dict(mask=mask, is_causal=p["causal"], score=p["score"], score_params=params)
    plain_out, weights = jit_attention(q, k, v, return_weights=True, **kwargs)
    weights = np.asarray(weights)
    valid = np.broadcast_to(_expected_valid(p), weights.shape)
    assert np.all(weights[~valid] == 0.0)
    row_has_keys = valid.any(-1)
    np.testing.assert_allclose(weights.sum(-1)[row_has_keys], 1.0, atol=1e-5)
    assert np.all(weights.sum(-1)[~row_has_keys] == 0.0)

    def chunked(*args, **kw):
        return jit_chunked_attention(
            *args, query_chunk_size=p["q_chunk"], key_chunk_size=p["k_chunk"], **kw)

    np.testing.assert_allclose(chunked(q, k, v, **kwargs), plain_out, atol=1e-5)
    np.testing.assert_allclose(weights_via_identity_values(chunked, q, k, **kwargs), weights, atol=1e-5)
