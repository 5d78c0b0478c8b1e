"""A masked softmax that never makes NaN: a row with nothing to attend to gives zeros."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

Array = jax.Array


def masked_softmax(logits: Array, mask: Optional[Array] = None, axis: int = -1) -> Array:
    """Softmax of float32 ``logits`` over ``axis``, restricted to where ``mask`` is True.

    Masked entries get exactly 0. A row whose entries are all masked (or all ``-inf``) gets all
    zeros, and its gradient is zero as well: masked logits never enter ``exp``, so no ``inf * 0``
    can appear in the backward pass.
    """
    logits = logits.astype(jnp.float32)
    if mask is None:
        row_max = jnp.max(logits, axis=axis, keepdims=True)
    else:
        row_max = jnp.max(jnp.where(mask, logits, -jnp.inf), axis=axis, keepdims=True)
    # The max only stabilises exp; softmax does not depend on it, so it needs no gradient.
    row_max = jax.lax.stop_gradient(jnp.where(jnp.isfinite(row_max), row_max, 0.0))
    shifted = logits - row_max
    if mask is None:
        unnormalized = jnp.exp(shifted)
    else:
        unnormalized = jnp.where(mask, jnp.exp(jnp.where(mask, shifted, 0.0)), 0.0)
    total = jnp.sum(unnormalized, axis=axis, keepdims=True)
    return unnormalized / jnp.where(total > 0, total, 1.0)
