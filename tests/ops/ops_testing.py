"""Helpers shared by the attnjax.ops tests: random q/k/v, score parameters, both implementations."""

import functools

import jax
import jax.numpy as jnp

import attnjax.ops as ops

SCORE_NAMES = ops.list_scores()

# Compiling one jitted call is much cheaper than compiling each op of an eager call, and the tests
# call these with many shapes; everything but arrays is static.
_STATIC = ("broadcast_dropout", "dropout_rate", "deterministic", "dtype", "precision", "score",
           "is_causal", "return_weights")
jit_attention = jax.jit(ops.attention, static_argnames=_STATIC)
jit_chunked_attention = jax.jit(
    ops.chunked_attention, static_argnames=_STATIC + ("query_chunk_size", "key_chunk_size"))

# Small chunks that do not divide the test lengths, so padding and multi-block paths are exercised.
chunked_small = functools.partial(jit_chunked_attention, query_chunk_size=4, key_chunk_size=3)

IMPLEMENTATIONS = {"plain": jit_attention, "chunked": chunked_small}


def random_qkv(seed=0, batch=2, q_len=7, k_len=5, heads=2, kv_heads=None, head_dim=8, dtype=jnp.float32):
    kq, kk, kv = jax.random.split(jax.random.key(seed), 3)
    kv_heads = heads if kv_heads is None else kv_heads
    q = jax.random.normal(kq, (batch, q_len, heads, head_dim), dtype)
    k = jax.random.normal(kk, (batch, k_len, kv_heads, head_dim), dtype)
    v = jax.random.normal(kv, (batch, k_len, kv_heads, head_dim), dtype)
    return q, k, v


def init_params(name, heads=2, head_dim=8, seed=1):
    return ops.get_score(name).init(jax.random.key(seed), heads, head_dim)


def weights_via_identity_values(impl, q, k, **kwargs):
    """Attention weights ``[B, H, Lq, Lk]`` from any implementation, even one that never returns them.

    With value = identity over keys, output row i is exactly weight row i.
    """
    b, k_len, kv_heads, _ = k.shape
    eye = jnp.broadcast_to(jnp.eye(k_len, dtype=q.dtype)[None, :, None, :], (b, k_len, kv_heads, k_len))
    out = impl(q, k, eye, **kwargs)  # [B, Lq, H, Lk]
    return out.transpose(0, 2, 1, 3)
