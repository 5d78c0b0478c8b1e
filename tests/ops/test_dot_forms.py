"""Scores declared as dot products (``Score.as_dot``) give what their own formulas give.

The reference for each score is the same Score with its dot form removed, so the attention functions
fall back to the formula (``score.fn``) for it.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ops_testing import IMPLEMENTATIONS, init_params, random_qkv

import attnjax.ops as ops

DOT_FORM_SCORES = [name for name in ops.list_scores() if ops.get_score(name).has_dot_form]


def _formula_only(name):
    return dataclasses.replace(ops.get_score(name), name=f"{name} (formula)", dot_form=None)


def _moved_params(name, heads):
    """Parameters away from their init values, so every head's parameters matter."""
    params = init_params(name, heads=heads)
    if params is None:
        return None
    return jax.tree.map(lambda x: x + 0.3 * jax.random.normal(jax.random.key(7), x.shape), params)


def test_every_score_but_additive_declares_a_dot_form():
    assert DOT_FORM_SCORES == ["dot", "scaled_dot", "general", "cosine", "gaussian"]
    q, k, _ = random_qkv()
    with pytest.raises(ValueError, match="'additive' has no dot-product form"):
        ops.get_score("additive").as_dot(q, k, init_params("additive"))


@pytest.mark.parametrize("name", DOT_FORM_SCORES)
def test_dot_form_logits_equal_the_formula_up_to_a_constant_per_row(name):
    q, k, _ = random_qkv(q_len=6, k_len=5, heads=3)
    score = ops.get_score(name)
    params = _moved_params(name, heads=3)
    dot = score.as_dot(q, k, params)
    q_dot, k_dot, key_bias = dot  # a 3-tuple
    assert q_dot.shape[:3] == q.shape[:3] and k_dot.shape[:3] == k.shape[:3]
    assert q_dot.shape[-1] == k_dot.shape[-1]
    if key_bias is not None:
        assert key_bias.shape == (2, 3, 1, 5) and key_bias.dtype == jnp.float32
    difference = np.asarray(dot.logits() - score(q, k, params), np.float64)
    # Only gaussian drops a term (-|q|^2 / 2 sigma^2), the same for every key of a row.
    np.testing.assert_allclose(difference - difference[..., :1], 0.0, atol=2e-5)
    if name != "gaussian":
        np.testing.assert_allclose(difference, 0.0, atol=2e-5)


def _loss_and_grads(impl, score, q, k, v, params, bias, mask, is_causal):
    def loss(q, k, v, params, bias):
        out = impl(q, k, v, bias=bias, mask=mask, is_causal=is_causal, score=score, score_params=params)
        return jnp.sum(jnp.sin(out) * jnp.arange(out.shape[-1])), out

    argnums = (0, 1, 2, 4) if params is None else (0, 1, 2, 3, 4)
    return jax.value_and_grad(loss, argnums=argnums, has_aux=True)(q, k, v, params, bias)


@pytest.mark.parametrize("impl_name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("name", DOT_FORM_SCORES)
def test_attention_through_the_dot_form_equals_the_formula(impl_name, name):
    # One call covers a key padding mask, a bias, causal masking and grouped kv heads (4 on 2).
    impl = IMPLEMENTATIONS[impl_name]
    q, k, v = random_qkv(seed=3, q_len=9, k_len=7, heads=4, kv_heads=2)
    params = _moved_params(name, 4)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([7, 3]), 7))
    bias = 0.5 * jax.random.normal(jax.random.key(5), (1, 4, 9, 7))
    is_causal = True

    (_, out), grads = _loss_and_grads(impl, name, q, k, v, params, bias, mask, is_causal)
    (_, out_ref), grads_ref = _loss_and_grads(impl, _formula_only(name), q, k, v, params, bias, mask, is_causal)
    np.testing.assert_allclose(out, out_ref, atol=2e-5, rtol=2e-5)
    assert len(jax.tree.leaves(grads)) == len(jax.tree.leaves(grads_ref))
    for g, g_ref in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref)):
        assert np.all(np.isfinite(np.asarray(g)))
        np.testing.assert_allclose(g, g_ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", DOT_FORM_SCORES)
def test_returned_and_sown_weights_are_unchanged(name):
    q, k, v = random_qkv(q_len=6, k_len=5)
    params = _moved_params(name, 2)
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([5, 2]), 5))
    _, weights = ops.attention(q, k, v, mask=mask, score=name, score_params=params, return_weights=True)
    _, weights_ref = ops.attention(q, k, v, mask=mask, score=_formula_only(name), score_params=params,
                                   return_weights=True)
    np.testing.assert_allclose(weights, weights_ref, atol=1e-6)

    class Sower:
        def sow(self, collection, name, value):
            self.sown = (collection, name, value)

    sower = Sower()
    ops.attention(q, k, v, mask=mask, score=name, score_params=params, module=sower)
    assert sower.sown[:2] == ("intermediates", "attention_weights")
    np.testing.assert_allclose(sower.sown[2], weights_ref, atol=1e-6)


def test_gaussian_dot_form_keeps_the_chunked_memory_linear():
    # The per-key bias enters the blocks with its query dim of size 1: no [B, H, Lq, Lk] array.
    q, k, v = random_qkv(q_len=64, k_len=64)
    params = init_params("gaussian")
    fn = jax.jit(jax.grad(lambda q: jnp.sum(ops.chunked_attention(
        q, k, v, score="gaussian", score_params=params, query_chunk_size=8, key_chunk_size=8))))
    hlo = fn.lower(q).as_text()
    assert "2x2x64x64" not in hlo and "f32[2,2,64,64]" not in hlo


@pytest.mark.parametrize("impl_name", list(IMPLEMENTATIONS))
def test_attention_runs_the_declared_dot_form(impl_name):
    # A score whose dot form deliberately differs from its formula: the dot form is what runs.
    probe = ops.Score("probe: dot form is 2q . k", ops.scores.dot_score,
                      dot_form=lambda q, k, params, precision=None: ops.DotForm(2.0 * q, k))
    q, k, v = random_qkv()
    impl = IMPLEMENTATIONS[impl_name]
    np.testing.assert_allclose(impl(q, k, v, score=probe), impl(2.0 * q, k, v, score="dot"), atol=1e-6)
