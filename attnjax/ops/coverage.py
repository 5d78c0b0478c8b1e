"""Coverage attention (See et al. 2017, "Get To The Point", section 2.3).

The coverage of query step ``t`` is the attention the earlier steps paid to each key, heads averaged:
``c^t = sum_{t' < t} mean_h a_h^{t'}`` (zeros at the first step, unless a decoder carries it in from
earlier calls). It enters the score (:meth:`attnjax.ops.Score.coverage_logits`), so the model can
see what it has already attended, and the coverage loss ``sum_i min(a_i^t, c_i^t)`` penalises
attending a key again: it is 0 for attention that never revisits a key.

Since ``a^t`` depends on ``c^t``, which depends on every earlier ``a``, the query steps run one after
another (a ``lax.scan`` over ``Lq`` of ``[B, H, 1, Lk]`` logits); the projections around it stay
parallel. One query per call with the coverage carried in (cached decoding) computes the same.

Shapes: query ``[B, Lq, H, D]``, key ``[B, Lk, K, D]``, value ``[B, Lk, K, Dv]`` (``K`` divides ``H``),
mask ``[B|1, H|1, Lq|1, Lk|1]`` bool, coverage ``[B, Lk]`` float32.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
from jax import lax

from attnjax.ops.attention import dropout_keep_mask
from attnjax.ops.inputs import check_dropout, prepare_inputs
from attnjax.ops.scores import Params, Score, get_score
from attnjax.ops.softmax import masked_softmax

Array = jax.Array


class Covered(NamedTuple):
    """What :func:`coverage_attention` returns.

    Attributes:
      out: ``[B, Lq, H, Dv]`` in the compute dtype.
      weights: float32 ``[B, H, Lq, Lk]`` (before dropout).
      coverage: float32 ``[B, Lq, Lk]``, the coverage each query step saw (its score's input).
      final_coverage: float32 ``[B, Lk]``, the coverage after the last step (the next call's input).
    """

    out: Array
    weights: Array
    coverage: Array
    final_coverage: Array


def coverage_loss(weights: Array, coverage: Array) -> Array:
    """``sum_i min(a_i, c_i)`` per query step: weights ``[B, H, Lq, Lk]`` (averaged over heads, as the
    coverage is) and coverage ``[B, Lq, Lk]`` -> float32 ``[B, Lq]``.

    Masked keys have weight 0 and so add nothing; masking padded query steps is the caller's.
    """
    mean = jnp.mean(weights.astype(jnp.float32), axis=1)
    return jnp.sum(jnp.minimum(mean, coverage.astype(jnp.float32)), axis=-1)


def coverage_attention(
    query: Array,
    key: Array,
    value: Array,
    mask: Optional[Array] = None,
    coverage: Optional[Array] = None,
    *,
    score: Union[str, Score] = "scaled_dot",
    score_params: Params = None,
    coverage_params: Params = None,
    dropout_rng: Optional[Array] = None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    broadcast_dropout: bool = True,
    dtype=None,
    precision=None,
) -> Covered:
    """Attention of each query step over the keys, with the coverage of the steps before it.

    Args:
      query, key, value, mask: see the module docstring; a query row with no key left gets zero
        weights (and adds nothing to the coverage).
      coverage: ``[B, Lk]`` coverage before the first query step; None: zeros.
      score, score_params: a registered score and its parameters (``Score.init``).
      coverage_params: the score's coverage parameters (``Score.init_coverage``).
      dropout_rng, dropout_rate, deterministic, broadcast_dropout: dropout on the weights that mix
        the values (as :func:`attnjax.ops.attention`); the coverage sums the weights before dropout.
      dtype, precision: as :func:`attnjax.ops.attention`.

    Returns:
      :class:`Covered`.
    """
    score = get_score(score)
    dropout = check_dropout(dropout_rate, dropout_rng, deterministic)
    q, k, v, _, mask = prepare_inputs(query, key, value, None, mask, dtype)
    b, lq, h, _ = q.shape
    lk = k.shape[1]
    if coverage is None:
        coverage = jnp.zeros((b, lk), jnp.float32)
    elif coverage.shape != (b, lk):
        raise ValueError(f"coverage has shape {coverage.shape}; expected [batch, k_len] = {(b, lk)}")
    mask = jnp.ones((b, h, lq, lk), bool) if mask is None else jnp.broadcast_to(mask, (b, h, lq, lk))

    def step(c, xs):
        q_t, mask_t = xs  # [B, 1, H, D], [B, H, 1, Lk]
        logits = score.coverage_logits(q_t, k, score_params, coverage_params, c[:, None], precision)
        w = masked_softmax(logits, mask_t)  # [B, H, 1, Lk]
        return c + jnp.mean(w[:, :, 0], axis=1), (w[:, :, 0], c)

    xs = (jnp.moveaxis(q, 1, 0)[:, :, None], jnp.moveaxis(mask, 2, 0)[:, :, :, None])
    final, (weights, seen) = lax.scan(step, coverage.astype(jnp.float32), xs)
    weights = jnp.moveaxis(weights, 0, 2)  # [B, H, Lq, Lk]
    seen = jnp.moveaxis(seen, 0, 1)  # [B, Lq, Lk]

    mix = weights
    if dropout:
        keep_prob = 1.0 - dropout_rate
        keep = dropout_keep_mask(dropout_rng, keep_prob, weights.shape, broadcast_dropout)
        mix = weights * keep.astype(jnp.float32) / keep_prob
    out = jnp.einsum("bhqk,bkhd->bqhd", mix, v.astype(jnp.float32), precision=precision)
    return Covered(out.astype(v.dtype), weights, seen, final)
