"""Attention with any registered score: ``softmax(score(q, k) + bias, masked) @ v``.

Shapes: query ``[B, Lq, H, D]``, key ``[B, Lk, K, D]``, value ``[B, Lk, K, Dv]`` (``K`` divides
``H``: grouped key/value heads), mask and bias ``[B|1, H|1, Lq|1, Lk|1]``; output ``[B, Lq, H, Dv]``
and, with ``return_weights``, weights ``[B, H, Lq, Lk]`` (float32).

The positional and keyword names match ``flax.linen.dot_product_attention``, so
``functools.partial(attention, score="additive", score_params=p)`` can be passed as
``attention_fn`` to ``flax.linen.MultiHeadDotProductAttention``.
"""

from __future__ import annotations

from typing import Optional, Union

import jax
import jax.numpy as jnp

from attnjax.ops.backends import BackendChoice, choose_backend, describe_call
from attnjax.ops.inputs import check_dropout, prepare_inputs
from attnjax.ops.masks import causal_mask, combine_masks
from attnjax.ops.scores import DotForm, Params, Score, check_params, get_score
from attnjax.ops.softmax import mask_logits, masked_softmax, softmax_weighted_sum

Array = jax.Array


def dropout_keep_mask(rng: Array, keep_prob: float, weights_shape, broadcast: bool) -> Array:
    """Bernoulli keep mask for attention weights, drawn as flax.linen does.

    With ``broadcast`` the mask is ``[1, 1, Lq, Lk]``, shared over batch and heads.
    """
    shape = (1, 1) + tuple(weights_shape[-2:]) if broadcast else tuple(weights_shape)
    return jax.random.bernoulli(rng, keep_prob, shape)


def _score_logits(score: Score, dot: Optional[DotForm], q: Array, k: Array, params: Params,
                  precision=None) -> Array:
    """float32 ``[B, H, Lq, Lk]`` logits, through the score's dot-product form when it has one (the
    same softmax; for gaussian one matmul and a per-key bias instead of the pairwise distance)."""
    if dot is not None:
        return dot.logits(precision)
    return score.fn(q, k, params, precision=precision)


def attention(
    query: Array,
    key: Array,
    value: Array,
    bias: Optional[Array] = None,
    mask: Optional[Array] = None,
    broadcast_dropout: bool = True,
    dropout_rng: Optional[Array] = None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    dtype=None,
    precision=None,
    module=None,
    *,
    score: Union[str, Score] = "scaled_dot",
    score_params: Params = None,
    is_causal: bool = False,
    return_weights: bool = False,
    implementation: Optional[str] = None,
):
    """Attention of ``query`` over ``key``/``value`` with the score named ``score``.

    Args:
      query, key, value: see the module docstring for shapes. Self-attention passes the same
        sequence three times; cross-attention may have ``Lq != Lk``.
      bias: float, added to the logits before the softmax.
      mask: bool, True where a query may attend a key. A query row with no key left gives zeros
        (and zero gradients), never NaN; so do zero-length queries or keys (``Lq = 0`` / ``Lk = 0``).
      broadcast_dropout: share the dropout mask across batch and heads (as flax does).
      dropout_rng, dropout_rate, deterministic: dropout on the attention weights, active when
        ``dropout_rate > 0`` and not ``deterministic``.
      dtype: compute dtype for q/k/v (default: their promoted dtype). The softmax is always float32.
      precision: matmul precision, passed to the score and the weighted sum.
      module: a flax module; when given, the weights are sown as ``intermediates/attention_weights``
        (flax's ``sow_weights=True`` passes it).
      score: a registered score name or a :class:`Score`.
      score_params: the score's parameters (see ``Score.init``); None for scores without any.
      is_causal: query ``i`` attends keys ``j <= i`` only (first query aligned with first key).
      return_weights: also return the (pre-dropout) attention weights.
      implementation: the kernel for a score with a dot-product form: None picks by platform
        (cuDNN flash attention on a GPU, the Pallas flash kernel on a TPU, where they take the call;
        else "xla", attnjax's own code), or "xla", "cudnn", "pallas" by name (an error says why one
        cannot run the call). See :mod:`attnjax.ops.backends` for the rule;
        :func:`attention_implementation` tells which one a call gets.

    Returns:
      ``out [B, Lq, H, Dv]`` in the compute dtype, or ``(out, weights)``.
    """
    score = get_score(score)
    check_params(score, score_params)
    dropout = check_dropout(dropout_rate, dropout_rng, deterministic)
    q, k, v, bias, mask = prepare_inputs(query, key, value, bias, mask, dtype)
    if q.shape[1] == 0 or k.shape[1] == 0:
        # No query or no key: zeros of the right shape, as jax.nn.dot_product_attention gives.
        out = jnp.zeros(q.shape[:3] + v.shape[-1:], v.dtype)
        weights = jnp.zeros((q.shape[0], q.shape[2], q.shape[1], k.shape[1]), jnp.float32)
        if module is not None:
            module.sow("intermediates", "attention_weights", weights)
        return (out, weights) if return_weights else out

    call = describe_call(score, q, k, v, score_params, bias, mask, is_causal=is_causal, dropout=dropout,
                         needs_weights=return_weights or module is not None, precision=precision)
    choice = choose_backend(call, implementation)
    if choice.fused:  # never with return_weights or module: fused kernels do not form the weights
        return choice.backend.run(call)
    logits = _score_logits(score, call.dot, q, k, score_params, precision)  # [B, H, Lq, Lk] float32
    if bias is not None:
        logits = logits + bias
    if is_causal:
        mask = combine_masks(mask, causal_mask(q.shape[1], k.shape[1]))
    logits = mask_logits(logits, mask)
    weights = None
    if return_weights or module is not None:
        weights = masked_softmax(logits)
    if module is not None:
        module.sow("intermediates", "attention_weights", weights)

    keep_scale = None
    if dropout:
        keep_prob = 1.0 - dropout_rate
        keep = dropout_keep_mask(dropout_rng, keep_prob, logits.shape, broadcast_dropout)
        keep_scale = keep.astype(jnp.float32) / keep_prob
    out = softmax_weighted_sum(logits, v, keep_scale, precision)
    return (out, weights) if return_weights else out


def attention_implementation(
    query: Array,
    key: Array,
    value: Array,
    bias: Optional[Array] = None,
    mask: Optional[Array] = None,
    dropout_rng: Optional[Array] = None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    dtype=None,
    *,
    score: Union[str, Score] = "scaled_dot",
    score_params: Params = None,
    is_causal: bool = False,
    return_weights: bool = False,
    implementation: Optional[str] = None,
    platform: Optional[str] = None,
) -> BackendChoice:
    """Which backend :func:`attention` (or ``chunked_attention``, with ``return_weights=False``) uses
    for these arguments on ``platform`` (default: the current one), and why the ones before it were
    skipped: ``choice.name``, ``choice.skipped``, ``choice.explain()``. Raises as ``attention``
    would for an ``implementation`` that cannot run the call."""
    score = get_score(score)
    check_params(score, score_params)
    dropout = check_dropout(dropout_rate, dropout_rng, deterministic)
    q, k, v, bias, mask = prepare_inputs(query, key, value, bias, mask, dtype)
    call = describe_call(score, q, k, v, score_params, bias, mask, is_causal=is_causal, dropout=dropout,
                         needs_weights=return_weights)
    return choose_backend(call, implementation, platform)
