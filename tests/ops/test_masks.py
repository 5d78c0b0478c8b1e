import jax.numpy as jnp
import numpy as np
import pytest

import attnjax.ops as ops


def test_padding_masks_from_lengths_and_ids():
    np.testing.assert_array_equal(
        ops.padding_mask(jnp.array([3, 0, 5]), 4),
        [[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]],
    )
    np.testing.assert_array_equal(ops.padding_mask_from_ids(jnp.array([[5, 2, 0, 0]])), [[1, 1, 0, 0]])
    np.testing.assert_array_equal(ops.padding_mask_from_ids(jnp.array([[5, -1]]), pad_id=-1), [[1, 0]])


def test_attention_and_key_padding_masks():
    q_valid = jnp.array([[1, 1, 0]], bool)
    k_valid = jnp.array([[1, 0]], bool)
    assert ops.key_padding_mask(k_valid).shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(ops.attention_mask(q_valid, k_valid)[0, 0], [[1, 0], [1, 0], [0, 0]])


def test_causal_mask_alignment():
    np.testing.assert_array_equal(ops.causal_mask(3)[0, 0], np.tril(np.ones((3, 3))))
    np.testing.assert_array_equal(ops.causal_mask(2, 4)[0, 0], [[1, 0, 0, 0], [1, 1, 0, 0]])
    # offset = k_len - q_len: the last query sees every key (incremental decoding).
    np.testing.assert_array_equal(ops.causal_mask(2, 4, offset=2)[0, 0], [[1, 1, 1, 0], [1, 1, 1, 1]])


def test_combine_masks():
    pad = ops.key_padding_mask(jnp.array([[1, 1, 0]], bool))
    combined = ops.combine_masks(pad, None, ops.causal_mask(3))
    np.testing.assert_array_equal(combined[0, 0], [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    assert ops.combine_masks(None, None) is None


@pytest.mark.parametrize("call,message", [
    (lambda: ops.padding_mask(jnp.array([[1]]), 3), r"lengths must have shape \[batch\]"),
    (lambda: ops.padding_mask_from_ids(jnp.array([1, 2])), r"token_ids must have shape \[batch, length\]"),
    (lambda: ops.attention_mask(jnp.ones((2, 3)), jnp.ones((3, 3))), "query_valid has batch 2 but key_valid has batch 3"),
    (lambda: ops.combine_masks(jnp.ones((2, 3), bool)), r"mask 0 has shape \(2, 3\); expected 4 dims"),
    (lambda: ops.combine_masks(jnp.ones((1, 1, 2, 3), bool), jnp.ones((1, 1, 3, 3), bool)), "do not broadcast"),
])
def test_mask_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
