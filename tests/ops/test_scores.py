"""Each score computes the formula it names; the registry finds, lists and rejects names."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ops_testing import init_params, random_qkv

import attnjax.ops as ops
from attnjax.ops.scores import Score


def _pairwise(fn, q, k):
    """Reference: the logit of every (query, key) pair, one pair at a time in numpy."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)
    b, lq, h, _ = q.shape
    lk = k.shape[1]
    out = np.zeros((b, h, lq, lk))
    for bi, hi, i, j in np.ndindex(b, h, lq, lk):
        out[bi, hi, i, j] = fn(q[bi, i, hi], k[bi, j, hi], hi)
    return out


def _reference(name, params):
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), params)
    refs = {
        "dot": lambda q, k, h: q @ k,
        "scaled_dot": lambda q, k, h: q @ k / math.sqrt(len(q)),
        "general": lambda q, k, h: q @ p["kernel"][h] @ k,
        "additive": lambda q, k, h: p["v"][h] @ np.tanh(q @ p["query_kernel"][h] + k @ p["key_kernel"][h] + p["bias"][h]),
        "cosine": lambda q, k, h: math.exp(p["log_scale"][h]) * (q @ k) / np.linalg.norm(q) / np.linalg.norm(k),
        "gaussian": lambda q, k, h: -np.sum((q - k) ** 2) / (2 * math.exp(p["log_sigma"][h]) ** 2),
    }
    return refs[name]


def test_every_score_computes_its_formula(score_name):
    q, k, _ = random_qkv(q_len=3, k_len=4)
    score = ops.get_score(score_name)
    params = init_params(score_name)
    if params is not None:  # move away from the init values so each head's parameters matter
        params = jax.tree.map(lambda x: x + 0.1 * jax.random.normal(jax.random.key(4), x.shape), params)
    logits = score(q, k, params)
    assert logits.shape == (2, 2, 3, 4) and logits.dtype == jnp.float32
    np.testing.assert_allclose(logits, _pairwise(_reference(score_name, params), q, k), rtol=1e-4, atol=1e-4)


def test_registry_lists_and_finds_every_score():
    assert ops.list_scores() == ("dot", "scaled_dot", "general", "additive", "cosine", "gaussian")
    for name in ops.list_scores():
        assert ops.get_score(name).name == name
    score = ops.get_score("additive")
    assert ops.get_score(score) is score


def test_unknown_score_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown attention score 'bahdanau'; expected one of: dot, scaled_dot"):
        ops.get_score("bahdanau")


def test_new_scores_can_be_registered_and_used_by_name():
    def laplace(query, key, params, precision=None):
        return -jnp.sum(jnp.abs(query[:, :, None] - key[:, None]), -1).transpose(0, 3, 1, 2)

    name = "laplace_for_test"
    if name not in ops.SCORES:
        ops.register_score(Score(name, laplace, None, "-|q - k|_1"))
    try:
        q, k, v = random_qkv()
        out = ops.attention(q, k, v, score=name)
        np.testing.assert_allclose(out, ops.chunked_attention(q, k, v, score=name, key_chunk_size=2), atol=1e-5)
        with pytest.raises(ValueError, match="already registered"):
            ops.register_score(Score(name, laplace))
    finally:
        # The registry is global: a score left behind changes what list_scores() gives later tests
        # in this process (tests/models/test_config.py builds its expected names from it).
        ops.SCORES._items.pop(name, None)


def test_parameter_shapes_and_init_options():
    rng = jax.random.key(0)
    additive = ops.get_score("additive").init(rng, num_heads=3, head_dim=8, hidden_dim=5)
    assert {k: v.shape for k, v in additive.items()} == {
        "query_kernel": (3, 8, 5), "key_kernel": (3, 8, 5), "bias": (3, 5), "v": (3, 5)}
    cosine = ops.get_score("cosine").init(rng, 3, 8, temperature=4.0)
    np.testing.assert_allclose(np.exp(cosine["log_scale"]), 4.0, rtol=1e-6)
    assert ops.get_score("dot").init(rng, 3, 8) is None
    with pytest.raises(ValueError, match="num_heads and head_dim must be positive"):
        ops.get_score("general").init(rng, 0, 8)
    with pytest.raises(ValueError, match="has no parameters"):
        ops.get_score("dot").init(rng, 2, 8, temperature=3.0)


def test_general_starts_as_scaled_dot_and_gaussian_on_its_scale():
    q, k, v = random_qkv()
    np.testing.assert_allclose(
        ops.attention(q, k, v, score="general", score_params=init_params("general")),
        ops.attention(q, k, v, score="scaled_dot"), atol=1e-5,
    )
    # Softmax ignores per-query constants: gaussian at init = softmax(2 q.k/sqrt(d) - |k|^2/sqrt(d)).
    bias = -jnp.sum(k**2, -1).transpose(0, 2, 1)[:, :, None, :] / math.sqrt(8)
    np.testing.assert_allclose(
        ops.attention(q, k, v, score="gaussian", score_params=init_params("gaussian")),
        ops.attention(q * 2 / math.sqrt(8), k, v, score="dot", bias=bias), atol=1e-5,
    )
