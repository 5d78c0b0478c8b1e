import jax
import jax.numpy as jnp
import numpy as np
import pytest

import attnjax.ops as ops


def _setup(num_hops=3):
    x = jax.random.normal(jax.random.key(0), (2, 6, 8))
    params = ops.attention_pooling_init(jax.random.key(1), features=8, hidden_dim=5, num_hops=num_hops)
    mask = ops.padding_mask(jnp.array([6, 3]), 6)
    return params, x, mask


def test_pooled_vectors_are_weighted_averages_of_valid_positions():
    params, x, mask = _setup()
    pooled, weights = ops.attention_pooling(params, x, mask)
    assert pooled.shape == (2, 3, 8) and weights.shape == (2, 3, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert np.all(np.asarray(weights[1, :, 3:]) == 0.0)
    np.testing.assert_allclose(pooled, jnp.einsum("brl,blf->brf", weights, x), atol=1e-6)
    # Padded positions do not matter.
    x_changed = x.at[1, 3:].set(100.0)
    np.testing.assert_allclose(ops.attention_pooling(params, x_changed, mask)[0], pooled, atol=1e-6)


def test_empty_sequence_pools_to_zero_with_finite_gradients():
    params, x, _ = _setup(num_hops=1)
    mask = jnp.zeros((2, 6), bool)
    grads = jax.grad(lambda p: jnp.sum(ops.attention_pooling(p, x, mask)[0]))(params)
    assert np.all(np.asarray(ops.attention_pooling(params, x, mask)[0]) == 0.0)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


def test_penalty_is_zero_for_disjoint_one_hot_hops_and_positive_otherwise():
    one_hot = jnp.eye(3, 5)[None]
    np.testing.assert_allclose(ops.pooling_penalty(one_hot), [0.0], atol=1e-7)
    same = jnp.full((1, 2, 4), 0.25)
    assert float(ops.pooling_penalty(same)[0]) > 0.5


def test_pooling_errors():
    params, x, mask = _setup()
    with pytest.raises(ValueError, match=r"x must have shape \[batch, length, features\]"):
        ops.attention_pooling(params, x[0], mask)
    with pytest.raises(ValueError, match="x has 4 features but the pooling parameters expect 8"):
        ops.attention_pooling(params, x[..., :4], mask)
    with pytest.raises(ValueError, match=r"mask has shape \(2, 5\)"):
        ops.attention_pooling(params, x, mask[:, :5])
    with pytest.raises(ValueError, match="num_hops must be positive, got 0"):
        ops.attention_pooling_init(jax.random.key(0), 8, 5, num_hops=0)
