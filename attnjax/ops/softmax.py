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
    if mask is not None:
        # One select: masked logits become -inf, so exp gives exactly 0 there and its gradient
        # (exp(-inf) * g) is 0 too; the select passes no gradient to masked logits.
        logits = jnp.where(mask, logits, -jnp.inf)
    row_max = jnp.max(logits, axis=axis, keepdims=True)
    # The max only stabilises exp; softmax does not depend on it, so it needs no gradient. A
    # fully masked row has max -inf: shift it by 0 instead (its exps are all 0).
    row_max = jax.lax.stop_gradient(jnp.where(jnp.isfinite(row_max), row_max, 0.0))
    unnormalized = jnp.exp(logits - row_max)
    total = jnp.sum(unnormalized, axis=axis, keepdims=True)
    return unnormalized / jnp.where(total > 0, total, 1.0)
