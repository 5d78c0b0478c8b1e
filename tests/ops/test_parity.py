"""scaled_dot against jax.nn and flax.linen: same numbers, and a drop-in flax attention_fn."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ops_testing import IMPLEMENTATIONS, random_qkv

import attnjax.ops as ops


def _mask_and_bias(q_len=7, k_len=9):
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([9, 4]), k_len))
    bias = jax.random.normal(jax.random.key(11), (2, 2, q_len, k_len))
    return mask, bias


@pytest.mark.parametrize("impl_name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("use_mask,use_bias,causal", [
    (False, False, False), (True, False, False), (False, True, False), (False, False, True),
    (True, True, True),
])
def test_scaled_dot_matches_jax_nn(impl_name, use_mask, use_bias, causal):
    q, k, v = random_qkv(q_len=7, k_len=9)
    mask, bias = _mask_and_bias()
    kwargs = dict(mask=mask if use_mask else None, bias=bias if use_bias else None, is_causal=causal)
    expected = jax.nn.dot_product_attention(q, k, v, **kwargs)
    got = IMPLEMENTATIONS[impl_name](q, k, v, score="scaled_dot", **kwargs)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_grouped_heads_match_jax_nn(impl):
    q, k, v = random_qkv(heads=6, kv_heads=2)
    np.testing.assert_allclose(
        impl(q, k, v, is_causal=True), jax.nn.dot_product_attention(q, k, v, is_causal=True), atol=1e-5
    )


@pytest.mark.parametrize("use_mask,use_bias,causal", [
    (True, False, False), (False, True, False), (True, True, True),
])
def test_scaled_dot_matches_flax(impl, use_mask, use_bias, causal):
    q, k, v = random_qkv(q_len=9, k_len=9)
    mask, bias = _mask_and_bias(9, 9)
    if causal:
        mask = ops.combine_masks(mask, ops.causal_mask(9))
    expected = nn.dot_product_attention(q, k, v, bias=bias if use_bias else None, mask=mask if use_mask or causal else None)
    got = impl(q, k, v, bias=bias if use_bias else None, mask=mask if use_mask or causal else None)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _flax_mha(attention_fn=nn.dot_product_attention, dropout_rate=0.0):
    return nn.MultiHeadDotProductAttention(
        num_heads=4, qkv_features=32, attention_fn=attention_fn, dropout_rate=dropout_rate
    )


def test_attention_is_a_drop_in_attention_fn_for_flax():
    x = jax.random.normal(jax.random.key(0), (2, 6, 16))
    # Key padding only: for a fully masked query row flax averages all values, attnjax gives zeros.
    mask = nn.make_attention_mask(jnp.ones((2, 6)), jnp.array([[1] * 6, [1] * 4 + [0] * 2]))
    reference = _flax_mha()
    params = reference.init(jax.random.key(1), x, mask=mask)
    expected = reference.apply(params, x, mask=mask)
    for attention_fn in (ops.attention, functools.partial(ops.chunked_attention, query_chunk_size=4)):
        ours = _flax_mha(attention_fn)
        np.testing.assert_allclose(ours.apply(params, x, mask=mask), expected, atol=1e-5)


def test_flax_dropout_and_sown_weights_are_reproduced():
    x = jax.random.normal(jax.random.key(0), (2, 6, 16))
    reference = _flax_mha(dropout_rate=0.3)
    params = reference.init(jax.random.key(1), x, deterministic=True)
    rngs = {"dropout": jax.random.key(5)}
    expected, ref_state = reference.apply(params, x, deterministic=False, rngs=rngs, sow_weights=True,
                                          mutable=["intermediates"])
    got, state = _flax_mha(ops.attention, dropout_rate=0.3).apply(
        params, x, deterministic=False, rngs=rngs, sow_weights=True, mutable=["intermediates"]
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(
        state["intermediates"]["attention_weights"][0],
        ref_state["intermediates"]["attention_weights"][0],
        atol=1e-6,
    )


def test_other_scores_plug_into_flax_with_their_parameters():
    x = jax.random.normal(jax.random.key(0), (2, 6, 16))
    additive = ops.get_score("additive")
    score_params = additive.init(jax.random.key(3), num_heads=4, head_dim=8)
    mha = _flax_mha(functools.partial(ops.attention, score=additive, score_params=score_params))
    params = mha.init(jax.random.key(1), x)
    out = mha.apply(params, x)
    assert out.shape == (2, 6, 16) and np.all(np.isfinite(out))
