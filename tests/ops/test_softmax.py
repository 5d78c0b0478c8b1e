"""masked_softmax: values, masked and empty rows, and its hand-written derivative rule."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from attnjax.ops import mask_logits, masked_softmax, softmax_weighted_sum


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


def _mix_inputs(dtype=jnp.float32):
    keys = jax.random.split(jax.random.key(2), 3)
    logits = jax.random.normal(keys[0], (2, 3, 4, 6), jnp.float32) * 2.0
    value = jax.random.normal(keys[1], (2, 6, 3, 5), dtype)
    mask = jax.random.bernoulli(keys[2], 0.7, logits.shape).at[0, 1, 2].set(False)  # one empty row
    return mask_logits(logits, mask), value, mask


def _reference_mix(logits, value, keep_scale=None):
    weights = masked_softmax(logits)
    if keep_scale is not None:
        weights = weights * keep_scale
    return jnp.einsum("bhqk,bkhd->bqhd", weights, value.astype(jnp.float32))


def test_softmax_weighted_sum_matches_softmax_then_sum():
    logits, value, _ = _mix_inputs()
    keep_scale = jax.random.bernoulli(jax.random.key(3), 0.8, logits.shape) / 0.8
    for scale in (None, keep_scale):
        out = softmax_weighted_sum(logits, value, scale)
        np.testing.assert_allclose(out, _reference_mix(logits, value, scale), rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(softmax_weighted_sum(logits, value))[0, 2, 1] == 0.0)  # the empty row


def test_softmax_weighted_sum_derivatives():
    logits, value, mask = _mix_inputs()
    keep_scale = jax.random.bernoulli(jax.random.key(3), 0.8, logits.shape) / 0.8
    for scale in (None, keep_scale):
        check_grads(
            lambda x, v: softmax_weighted_sum(x, v, scale), (jnp.where(mask, logits, 0.0), value),
            order=2, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2, eps=1e-3,
        )
        cotangent = jax.random.normal(jax.random.key(4), value.shape[:1] + logits.shape[2:3] + value.shape[2:])

        def loss(x, v):
            return jnp.sum(softmax_weighted_sum(x, v, scale) * cotangent)

        def reference_loss(x, v):
            return jnp.sum(_reference_mix(x, v, scale) * cotangent)

        grads = jax.grad(loss, argnums=(0, 1))(logits, value)
        expected = jax.grad(reference_loss, argnums=(0, 1))(logits, value)
        for got, want in zip(grads, expected):
            assert np.all(np.isfinite(got))
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert np.all(np.asarray(grads[0])[~np.asarray(mask)] == 0.0)


def test_softmax_weighted_sum_keeps_the_value_dtype():
    logits, value, _ = _mix_inputs(jnp.bfloat16)
    out = softmax_weighted_sum(logits, value)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        out.astype(jnp.float32), _reference_mix(logits, value), rtol=2e-2, atol=2e-2
    )
