"""Checks and preparation shared by the plain and the chunked attention.

Shapes (as in ``jax.nn.dot_product_attention``): query ``[B, Lq, H, D]``, key ``[B, Lk, K, D]``,
value ``[B, Lk, K, Dv]`` with ``H % K == 0`` (grouped key/value heads), mask and bias
``[B|1, H|1, Lq|1, Lk|1]``. Shapes that do not match raise a ValueError that names the argument;
nothing is silently broadcast.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

Array = jax.Array

_LAYOUT = {
    "query": "[batch, q_len, heads, head_dim]",
    "key": "[batch, k_len, kv_heads, head_dim]",
    "value": "[batch, k_len, kv_heads, value_dim]",
}


class AttentionInputs(NamedTuple):
    query: Array  # [B, Lq, H, D]
    key: Array  # [B, Lk, H, D], kv heads repeated to H
    value: Array  # [B, Lk, H, Dv]
    bias: Optional[Array]  # [B|1, H|1, Lq|1, Lk|1] float32
    mask: Optional[Array]  # [B|1, H|1, Lq|1, Lk|1] bool


def _check_rank(name: str, x: Array) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape {_LAYOUT[name]}, got shape {tuple(x.shape)}")


def _check_broadcastable(name: str, x: Optional[Array], full: tuple[int, ...]) -> None:
    if x is None:
        return
    shape = tuple(x.shape)
    if len(shape) != 4 or any(s not in (1, f) for s, f in zip(shape, full)):
        raise ValueError(
            f"{name} has shape {shape}; expected 4 dims [batch, heads, q_len, k_len], each 1 or equal "
            f"to {full}"
        )


def prepare_inputs(
    query: Array,
    key: Array,
    value: Array,
    bias: Optional[Array] = None,
    mask: Optional[Array] = None,
    dtype=None,
) -> AttentionInputs:
    """Validates shapes, promotes q/k/v to one dtype and repeats grouped kv heads."""
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    for name, x in (("query", query), ("key", key), ("value", value)):
        _check_rank(name, x)
    b, q_len, heads, head_dim = query.shape
    if key.shape[0] != b or value.shape[0] != b:
        raise ValueError(
            f"batch sizes differ: query {query.shape}, key {key.shape}, value {value.shape}"
        )
    if key.shape[1] != value.shape[1]:
        raise ValueError(f"key has length {key.shape[1]} but value has length {value.shape[1]}")
    if key.shape[2] != value.shape[2]:
        raise ValueError(f"key has {key.shape[2]} heads but value has {value.shape[2]}")
    if key.shape[3] != head_dim:
        raise ValueError(
            f"query has head_dim {head_dim} but key has head_dim {key.shape[3]}; they must match"
        )
    kv_heads = key.shape[2]
    if kv_heads == 0 or heads % kv_heads:
        raise ValueError(
            f"query has {heads} heads, which the {kv_heads} key/value heads do not divide; "
            f"expected query heads to be a multiple of key/value heads"
        )
    full = (b, heads, q_len, key.shape[1])
    if mask is not None:
        mask = jnp.asarray(mask)
        _check_broadcastable("mask", mask, full)
        mask = mask.astype(bool)
    if bias is not None:
        bias = jnp.asarray(bias)
        _check_broadcastable("bias", bias, full)
        bias = bias.astype(jnp.float32)

    dtype = jnp.result_type(query, key, value) if dtype is None else dtype
    query, key, value = (x.astype(dtype) for x in (query, key, value))
    if kv_heads != heads:
        # Query head h reads kv head h // group, as in jax.nn.dot_product_attention.
        group = heads // kv_heads
        key = jnp.repeat(key, group, axis=2)
        value = jnp.repeat(value, group, axis=2)
    return AttentionInputs(query, key, value, bias, mask)


def check_dropout(dropout_rate: float, dropout_rng: Optional[Array], deterministic: bool) -> bool:
    """Whether dropout is active; raises on a rate outside [0, 1) or a missing rng."""
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    active = dropout_rate > 0.0 and not deterministic
    if active and dropout_rng is None:
        raise ValueError(
            f"dropout_rate={dropout_rate} with deterministic=False needs a dropout_rng; pass one, "
            f"or deterministic=True"
        )
    return active
