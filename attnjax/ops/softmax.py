"""A masked softmax that never makes NaN (a row with nothing to attend to gives zeros), and the
softmax-weighted sum of values that attention is built on.

Both carry a hand-written derivative rule in terms of the softmax output, as ``jax.nn.softmax``
does, and floor the row statistics rather than select on them; the reasons, with the timings that
decided them (2-core CPU, ``experiments/benchmarks/attention_bench.py``), are beside the code.
"""

from __future__ import annotations

import functools
from typing import Optional

import jax
import jax.numpy as jnp

Array = jax.Array

_F32_MIN = float(jnp.finfo(jnp.float32).min)
_F32_TINY = float(jnp.finfo(jnp.float32).tiny)


def masked_softmax(logits: Array, mask: Optional[Array] = None, axis: int = -1) -> Array:
    """Softmax of ``logits`` over ``axis`` in float32, restricted to where ``mask`` is True.

    Masked entries get exactly 0. A row whose entries are all masked (or all ``-inf``) gets all
    zeros, and its gradient is zero as well.
    """
    return _softmax(mask_logits(logits, mask), axis)


def mask_logits(logits: Array, mask: Optional[Array] = None) -> Array:
    """float32 ``logits`` with masked entries set to ``-inf`` (so exp gives exactly 0 there; the
    select passes them no gradient)."""
    logits = logits.astype(jnp.float32)
    return logits if mask is None else jnp.where(mask, logits, -jnp.inf)


def softmax_weighted_sum(
    logits: Array, value: Array, keep_scale: Optional[Array] = None, precision=None
) -> Array:
    """``softmax(logits) @ value`` per head: logits ``[B, H, Lq, Lk]`` (float32, masked entries
    ``-inf``; see :func:`mask_logits`), value ``[B, Lk, H, Dv]`` -> ``[B, Lq, H, Dv]`` in value's dtype.

    ``keep_scale`` (broadcastable to the logits) multiplies the weights after the softmax: dropout's
    ``keep / keep_prob``. It is treated as a constant: no derivative flows into it. Rows with every
    logit ``-inf`` give zeros and zero gradients.
    """
    if isinstance(precision, list):
        precision = tuple(precision)  # a static argument below: must be hashable
    return _softmax_weighted_sum(logits, value, keep_scale, precision)


def _exp_and_inverse_total(logits: Array, axis: int):
    # A fully masked row has max -inf; the floor makes its shift finite, so its exps are exactly 0
    # instead of exp(-inf - -inf) = NaN, and its total 0 inverts as 1/tiny (finite; times 0 is 0).
    # Both floors act on the [.., 1] row statistics, so the [.., L] passes stay one fused exp-sum
    # and one scale: with selects there instead, XLA CPU fused them worse (forward 15% slower than
    # jax.nn.softmax at L=8192).
    row_max = jnp.maximum(jnp.max(logits, axis=axis, keepdims=True), _F32_MIN)
    unnormalized = jnp.exp(logits - jax.lax.stop_gradient(row_max))
    total = jnp.sum(unnormalized, axis=axis, keepdims=True)
    return unnormalized, 1.0 / jnp.maximum(total, _F32_TINY)


def _weighted_sum(weights: Array, value: Array, precision) -> Array:
    """``[B, H, Lq, Lk] x [B, Lk, H, Dv] -> [B, H, Lq, Dv]`` float32 (heads before queries: the
    caller scales rows there and transposes once; producing ``[B, Lq, H, Dv]`` from the dot made
    XLA CPU pick a 1.5-2x slower fusion at every benchmark shape)."""
    return jnp.einsum(
        "bhqk,bkhd->bhqd", weights.astype(value.dtype), value, precision=precision,
        preferred_element_type=jnp.float32,
    )


def _to_output(out: Array, dtype) -> Array:
    """``[B, H, Lq, Dv]`` float32 -> ``[B, Lq, H, Dv]`` in ``dtype``."""
    return jnp.swapaxes(out, 1, 2).astype(dtype)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _softmax(logits: Array, axis: int) -> Array:
    unnormalized, inverse_total = _exp_and_inverse_total(logits, axis)
    return unnormalized * inverse_total


@_softmax.defjvp
def _softmax_jvp(axis, primals, tangents):
    # d softmax = y * (dx - sum(y * dx)): written in terms of the output alone (as jax.nn.softmax
    # does), so reverse mode keeps one [.., L] residual instead of differentiating exp, sum and the
    # division step by step (2.4x slower backward at L=8192). Where y is 0 (masked keys, empty
    # rows) the tangent is exactly 0.
    (logits,), (logits_dot,) = primals, tangents
    y = _softmax(logits, axis)
    return y, _softmax_tangent(y, logits_dot, axis)


def _softmax_tangent(y: Array, logits_dot: Array, axis: int = -1) -> Array:
    return y * (logits_dot - jnp.sum(y * logits_dot, axis=axis, keepdims=True))


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _softmax_weighted_sum(logits, value, keep_scale, precision):
    # Normalise after the weighted sum: the [.., Lk] weights are never divided, only the
    # [.., Dv] output rows. Forward at B=8, L=2048 this runs 1.6x jax.nn.dot_product_attention
    # (normalising first: 1.1x); at 8x128 it avoids a one-fusion schedule that XLA CPU ran 3x slower.
    unnormalized, inverse_total = _exp_and_inverse_total(logits, -1)
    if keep_scale is not None:
        unnormalized = unnormalized * keep_scale
    return _to_output(_weighted_sum(unnormalized, value, precision) * inverse_total, value.dtype)


@_softmax_weighted_sum.defjvp
def _softmax_weighted_sum_jvp(precision, primals, tangents):
    # Differentiation needs the normalised weights y anyway (they are the backward's residual), so
    # the rule forms them first; the tangent is the softmax rule's, composed with the weighted sum.
    # Composing (rather than expanding into the FlashAttention-2 form dO.O) measured 1.2-2x faster
    # backward than jax.nn at every benchmark shape; the expanded form was 1.2x at L=8192.
    logits, value, keep_scale = primals
    logits_dot, value_dot, _ = tangents  # keep_scale is a constant (random bits, no inputs)
    y = _softmax(logits, -1)
    y_dot = _softmax_tangent(y, logits_dot)
    if keep_scale is not None:
        y, y_dot = y * keep_scale, y_dot * keep_scale
    out = _weighted_sum(y, value, precision)
    out_dot = _weighted_sum(y_dot, value, precision) + _weighted_sum(y, value_dot, precision)
    return _to_output(out, value.dtype), _to_output(out_dot, value.dtype)
