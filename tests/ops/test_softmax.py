"""masked_softmax: values, masked and empty rows, and its hand-written derivative rule."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from attnjax.ops import masked_softmax


def _inputs():
    logits = jax.random.normal(jax.random.key(0), (2, 3, 5), jnp.float32) * 3.0
    mask = jnp.array(
        [
            [[1, 1, 1, 1, 1], [1, 0, 1, 0, 0], [0, 0, 0, 0, 0]],
            [[0, 0, 0, 0, 1], [1, 1, 0, 1, 1], [0, 0, 0, 0, 0]],
        ],
        bool,
    )
    return logits, mask


def test_matches_jax_softmax_without_mask():
    logits, _ = _inputs()
    np.testing.assert_allclose(masked_softmax(logits), jax.nn.softmax(logits), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        masked_softmax(logits, axis=1), jax.nn.softmax(logits, axis=1), rtol=1e-6, atol=1e-7
    )


def test_masked_entries_and_empty_rows_are_exact_zeros():
    logits, mask = _inputs()
    weights = masked_softmax(logits, mask)
    assert np.all(np.asarray(weights)[~np.asarray(mask)] == 0.0)
    sums = np.asarray(weights.sum(-1))
    nonempty = np.asarray(mask.any(-1))
    np.testing.assert_allclose(sums[nonempty], 1.0, rtol=1e-6)
    assert np.all(sums[~nonempty] == 0.0)
    # Each unmasked row equals the plain softmax over its unmasked entries.
    row = np.asarray(logits[0, 1])[[0, 2]]
    np.testing.assert_allclose(np.asarray(weights[0, 1])[[0, 2]], jax.nn.softmax(row), rtol=1e-6)


def test_all_minus_inf_rows_give_zeros_not_nan():
    logits = jnp.full((2, 4), -jnp.inf).at[0, 1].set(0.5)
    weights = masked_softmax(logits)
    np.testing.assert_array_equal(weights, jnp.array([[0, 1, 0, 0], [0, 0, 0, 0]], jnp.float32))


def test_gradients_are_finite_and_zero_where_masked_in_both_modes():
    logits, mask = _inputs()
    cotangent = jax.random.normal(jax.random.key(1), logits.shape)

    def loss(x):
        return jnp.sum(masked_softmax(x, mask) * cotangent)

    grad = np.asarray(jax.grad(loss)(logits))
    assert np.all(np.isfinite(grad))
    assert np.all(grad[~np.asarray(mask)] == 0.0)
    # Forward mode through the same rule agrees with reverse mode, column by column.
    forward = np.asarray(jax.jacfwd(loss)(logits))
    np.testing.assert_allclose(forward, grad, rtol=1e-5, atol=1e-6)
    hessian = np.asarray(jax.hessian(loss)(logits))
    assert np.all(np.isfinite(hessian))


def test_derivatives_match_finite_differences_to_second_order():
    logits, mask = _inputs()
    check_grads(
        lambda x: masked_softmax(x, mask), (logits,), order=2, modes=["fwd", "rev"],
        atol=1e-2, rtol=1e-2, eps=1e-3,
    )
    check_grads(lambda x: masked_softmax(x, axis=0), (logits,), order=2, modes=["fwd", "rev"],
                atol=1e-2, rtol=1e-2, eps=1e-3)
