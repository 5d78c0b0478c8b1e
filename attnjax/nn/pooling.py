"""Sequence pooling: ``x [batch, length, features]`` and ``mask [batch, length]`` -> ``[batch, features]``.

- :func:`mean_pool`: average over the valid positions.
- :func:`first_pool`: the first position (the ``[CLS]`` token when the model prepends one).
- :class:`AttentionPooling`: Lin et al. (2017) structured self-attention (:mod:`attnjax.ops.pooling`).
- :class:`QueryAttentionPooling`: a learned query attends the sequence with any registered score
  (the "attention" layer of attention-based RNN classifiers, e.g. Yang et al. 2016); with the
  additive score, keys-only: ``v . tanh(U k + b)``, no query.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import ops
from attnjax.nn.attention import Attention
from attnjax.ops import Score

Array = jax.Array


def mean_pool(x: Array, mask: Array) -> Array:
    """Mean of ``x [B, L, F]`` over positions where ``mask [B, L]`` is True (zeros if none)."""
    weights = mask.astype(x.dtype)[..., None]
    # Summed in float32: a bfloat16 running sum of hundreds of positions drops their low bits.
    total = jnp.sum(x * weights, axis=1, dtype=jnp.float32)
    count = jnp.sum(weights, axis=1, dtype=jnp.float32)
    return (total / jnp.maximum(count, 1.0)).astype(x.dtype)


def first_pool(x: Array, mask: Array) -> Array:
    """``x[:, 0]``: the representation of a prepended ``[CLS]`` token."""
    del mask
    return x[:, 0]


class AttentionPooling(nn.Module):
    """Structured self-attention pooling; returns ``[batch, num_hops * features]``.

    The weights ``[batch, num_hops, length]`` are sown as ``intermediates/pooling_weights``
    (float32); ``dtype`` is the compute dtype (None: x's).
    """

    hidden_dim: int = 32
    num_hops: int = 1
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, mask: Array) -> Array:
        if self.dtype is not None:
            x = x.astype(self.dtype)  # the float32 parameters are cast to x's dtype inside
        params = self.param(
            "pooling",
            lambda rng: ops.attention_pooling_init(rng, x.shape[-1], self.hidden_dim, self.num_hops),
        )
        pooled, weights = ops.attention_pooling(params, x, mask)
        self.sow("intermediates", "pooling_weights", weights)
        return pooled.reshape(x.shape[0], -1)


class QueryAttentionPooling(nn.Module):
    """A learned query attends ``x`` with ``score``; returns ``[batch, features]``.

    A score whose ``keys_only_pooling`` is True (additive) attends with a zero query instead, and
    has no query parameter: its own bias is the constant (see :class:`attnjax.ops.Score`).
    The weights ``[batch, heads, 1, length]`` are sown by the inner :class:`Attention`.
    """

    num_heads: int = 1
    score: Union[str, Score] = "scaled_dot"
    qkv_features: Optional[int] = None  # q/k/v width; None: the features of x
    qk_features: Optional[int] = None  # q/k width alone (d_k * heads); None: qkv_features
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, mask: Array) -> Array:
        keys_only = ops.get_score(self.score).keys_only_pooling
        dtype = x.dtype if self.dtype is None else self.dtype
        if keys_only:
            query = jnp.zeros((x.shape[0], 1, x.shape[-1]), dtype)
        else:
            query = self.param("query", nn.initializers.normal(1.0), (1, 1, x.shape[-1]))
            query = jnp.broadcast_to(query.astype(dtype), (x.shape[0], 1, x.shape[-1]))
        attend = Attention(
            num_heads=self.num_heads, score=self.score, qkv_features=self.qkv_features,
            qk_features=self.qk_features, keys_only=keys_only, dtype=self.dtype, name="attention"
        )
        return attend(query, x, ops.key_padding_mask(mask))[:, 0]
