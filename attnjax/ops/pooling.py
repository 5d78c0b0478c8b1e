"""Attention pooling: a sequence ``[B, L, F]`` -> ``r`` weighted averages ``[B, r, F]``.

Structured self-attention of Lin et al. (2017), "A structured self-attentive sentence embedding":
``A = softmax(W2 tanh(W1 x^T))`` over the valid positions, pooled ``M = A x``. With ``num_hops=1``
it is the single "weighted attention" vector of the sentiment literature. ``pooling_penalty`` is
their ``|A A^T - I|_F^2`` term, which pushes the hops to look at different positions.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import jax
import jax.numpy as jnp

from attnjax.ops.softmax import masked_softmax

Array = jax.Array


def attention_pooling_init(
    rng: Array, features: int, hidden_dim: int, num_hops: int = 1, dtype=jnp.float32
) -> dict[str, Any]:
    """Parameters ``{"w1": [F, hidden], "w2": [hidden, r]}`` for :func:`attention_pooling`."""
    for name, value in (("features", features), ("hidden_dim", hidden_dim), ("num_hops", num_hops)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    k1, k2 = jax.random.split(rng)
    return {
        "w1": jax.random.normal(k1, (features, hidden_dim), dtype) / math.sqrt(features),
        "w2": jax.random.normal(k2, (hidden_dim, num_hops), dtype) / math.sqrt(hidden_dim),
    }


def attention_pooling(
    params: dict[str, Any], x: Array, mask: Optional[Array] = None
) -> tuple[Array, Array]:
    """Pools ``x [B, L, F]`` over its valid positions (``mask [B, L]``, True = valid).

    Returns:
      pooled ``[B, r, F]`` (in x's dtype) and weights ``[B, r, L]`` (float32; each row sums to 1
      over valid positions, and is all zero for a sequence with no valid position).
    """
    x = jnp.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape [batch, length, features], got shape {x.shape}")
    features = params["w1"].shape[0]
    if x.shape[-1] != features:
        raise ValueError(f"x has {x.shape[-1]} features but the pooling parameters expect {features}")
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask has shape {mask.shape}; expected [batch, length] = {x.shape[:2]}")
        mask = mask.astype(bool)[:, None, :]
    hidden = jnp.tanh(x @ params["w1"].astype(x.dtype))  # [B, L, hidden]
    logits = jnp.einsum("blh,hr->brl", hidden, params["w2"].astype(x.dtype),
                        preferred_element_type=jnp.float32)
    weights = masked_softmax(logits, mask)
    pooled = jnp.einsum("brl,blf->brf", weights.astype(x.dtype), x)
    return pooled, weights


def pooling_penalty(weights: Array) -> Array:
    """Lin et al.'s redundancy penalty ``|A A^T - I|_F^2`` per example: ``[B, r, L] -> [B]``."""
    gram = jnp.einsum("brl,bsl->brs", weights, weights)
    eye = jnp.eye(weights.shape[1], dtype=gram.dtype)
    return jnp.sum((gram - eye) ** 2, axis=(1, 2))
