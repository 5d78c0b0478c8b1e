"""Bad input raises a ValueError that names the argument and the shapes; nothing broadcasts silently."""

import jax.numpy as jnp
import pytest
from ops_testing import random_qkv

import attnjax.ops as ops


@pytest.mark.parametrize("bad,message", [
    (dict(query=jnp.zeros((2, 7, 8))), r"query must have shape \[batch, q_len, heads, head_dim\], got shape \(2, 7, 8\)"),
    (dict(key=jnp.zeros((3, 5, 2, 8))), r"batch sizes differ"),
    (dict(value=jnp.zeros((2, 6, 2, 8))), r"key has length 5 but value has length 6"),
    (dict(value=jnp.zeros((2, 5, 1, 8))), r"key has 2 heads but value has 1"),
    (dict(key=jnp.zeros((2, 5, 2, 4)), value=jnp.zeros((2, 5, 2, 4))), r"query has head_dim 8 but key has head_dim 4"),
    (dict(query=jnp.zeros((2, 7, 3, 8))), r"query has 3 heads, which the 2 key/value heads do not divide"),
    (dict(mask=jnp.ones((2, 7), bool)), r"mask has shape \(2, 7\); expected 4 dims \[batch, heads, q_len, k_len\]"),
    (dict(mask=jnp.ones((2, 1, 7, 9), bool)), r"mask has shape \(2, 1, 7, 9\).*\(2, 2, 7, 5\)"),
    (dict(bias=jnp.zeros((3, 1, 1, 5))), r"bias has shape \(3, 1, 1, 5\)"),
    (dict(score="softmax"), r"unknown attention score 'softmax'; expected one of: dot, scaled_dot, general, additive, cosine, gaussian"),
    (dict(score="additive"), r"score 'additive' has parameters but score_params is None"),
    (dict(score="dot", score_params={"w": jnp.zeros(1)}), r"score 'dot' takes no parameters"),
    (dict(dropout_rate=1.0), r"dropout_rate must be in \[0, 1\), got 1.0"),
])
@pytest.mark.parametrize("impl_name", ["plain", "chunked"])
def test_bad_input_is_named(bad, message, impl_name):
    q, k, v = random_qkv()
    args = dict(query=q, key=k, value=v)
    args.update(bad)
    fn = ops.attention if impl_name == "plain" else ops.chunked_attention
    with pytest.raises(ValueError, match=message):
        fn(**args)


def test_chunked_rejects_what_it_cannot_do():
    q, k, v = random_qkv()
    with pytest.raises(ValueError, match="never materialises"):
        ops.chunked_attention(q, k, v, return_weights=True)
    with pytest.raises(ValueError, match="query_chunk_size must be a positive int or None, got 0"):
        ops.chunked_attention(q, k, v, query_chunk_size=0)
