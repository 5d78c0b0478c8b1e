"""``Attention``: one Flax module for every registered attention score, single- or multi-head.

``inputs_q [batch, q_len, features]`` attends ``inputs_kv [batch, kv_len, features]`` (self-attention
when omitted): q/k/v are projected to ``[batch, length, num_heads, head_dim]`` (q and k may be
wider than v: ``qk_features``), mixed by
:func:`attnjax.ops.attention` (or :func:`attnjax.ops.chunked_attention` for long inputs) with the
chosen score, and projected back to ``[batch, q_len, out_features]``. ``num_heads=1`` is classic
single-head attention.

The weights ``[batch, heads, q_len, kv_len]`` are sown as ``intermediates/attention_weights``; read
them with ``apply(..., mutable=["intermediates"])``. The chunked path never builds them, so then
nothing is sown.

With ``coverage=True`` (See et al. 2017; :mod:`attnjax.ops.coverage`) the score also reads the
coverage, the attention each key already had from the query steps before (its parameters, from
``Score.init_coverage``, are the module parameter ``coverage``), and the call returns
``(out, covered)`` with the :class:`attnjax.ops.Covered` weights and coverages. A decoder carries
``covered.final_coverage`` into its next call.

With ``decode=True`` the module keeps projected keys and values in the ``cache`` collection (as
``flax.linen.MultiHeadDotProductAttention`` does): initialise with the full-length input to size the
cache, then feed one position per call.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from attnjax import ops
from attnjax.nn.positional import apply_rotary
from attnjax.ops import Score

Array = jax.Array
# The parameter that holds a score's coverage weights (Score.init_coverage): found by this name by
# attnjax.models.coverage_phase, which holds it at zero before See et al.'s coverage phase.
COVERAGE_PARAM = "coverage"


class Attention(nn.Module):
    """Multi-head attention with any score.

    Attributes:
      num_heads: number of heads; must divide ``qkv_features`` and ``qk_features``.
      score: a registered score name or a :class:`attnjax.ops.Score` (its parameters, if any, are
        the module parameter ``score``).
      qkv_features: size of the q/k/v projections (default: the input features).
      qk_features: size of the query and key projections alone, when they differ from the
        value's (default: ``qkv_features``): Vaswani et al. (2017)'s ``d_k = qk_features /
        num_heads`` apart from ``d_v = qkv_features / num_heads``. The scores see q and k only, so
        this is the width their scaling argument is about; the value and output keep theirs.
      out_features: output size (default: the input features).
      dropout_rate: dropout on the attention weights.
      rotary: rotate q and k by their positions (rotary position embedding).
      decode: keep a key/value cache for autoregressive decoding (self-attention only).
      use_chunked, query_chunk_size, key_chunk_size: O(length) memory path (no weights sown).
      sow_weights: sow the attention weights (off when the caller collects them itself).
      coverage: the score reads the coverage of earlier query steps (cross-attention of a decoder;
        not with ``decode``, ``use_chunked``, ``rotary`` or ``is_causal``).
      keys_only: no query projection; the score sees a zero query (``inputs_q`` gives only the
        batch and query length): attention pooling with a score whose ``keys_only_pooling`` is
        True (additive: ``v . tanh(U k + b)``).
      dtype: compute dtype of the projections and of q/k/v (None: inferred from inputs and
        params); the scores, the softmax and the returned weights stay float32.
    """

    num_heads: int
    score: Union[str, Score] = "scaled_dot"
    qkv_features: Optional[int] = None
    qk_features: Optional[int] = None
    out_features: Optional[int] = None
    dropout_rate: float = 0.0
    use_bias: bool = True
    rotary: bool = False
    decode: bool = False
    use_chunked: bool = False
    query_chunk_size: Optional[int] = None  # None: chosen by attnjax.ops.chunked_attention
    key_chunk_size: Optional[int] = None
    sow_weights: bool = True
    coverage: bool = False
    keys_only: bool = False
    dtype: Any = None
    precision: Any = None

    @nn.compact
    def __call__(
        self,
        inputs_q: Array,
        inputs_kv: Optional[Array] = None,
        mask: Optional[Array] = None,
        *,
        is_causal: bool = False,
        deterministic: bool = True,
        return_weights: bool = False,
        coverage: Optional[Array] = None,
        key_value: Optional[tuple[Array, Array]] = None,
    ):
        """Returns ``[batch, q_len, out_features]``, or ``(out, weights [batch, heads, q_len, kv_len])``;
        with ``self.coverage``, ``(out, covered)`` (:class:`attnjax.ops.Covered`, its ``out`` the
        projected output too).

        ``mask [batch|1, heads|1, q_len|1, kv_len|1]`` bool, True where a query may attend a key.
        ``coverage [batch, kv_len]``: the coverage before the first query (``self.coverage`` only;
        None: zeros).
        ``key_value``: keys and values already projected, ``[batch, kv_len, heads, qk_features //
        heads]`` and ``[batch, kv_len, heads, qkv_features // heads]``,
        instead of ``inputs_kv`` (which must then be None): a decoder that attends the same memory
        at every step projects it once, outside its time loop (:class:`attnjax.nn.RNNDecoder`), and
        this module's own key/value projections are not created.
        """
        score = ops.get_score(self.score)
        if key_value is not None and inputs_kv is not None:
            raise ValueError("give either inputs_kv (to be projected here) or key_value (projected), not both")
        if inputs_kv is None:
            inputs_kv = inputs_q
        features = inputs_q.shape[-1]
        qkv_features = self.qkv_features or features
        qk_features = self.qk_features or qkv_features
        if self.num_heads <= 0 or qkv_features % self.num_heads or qk_features % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must be positive and divide qkv_features={qkv_features} "
                f"and qk_features={qk_features}"
            )
        head_dim = qk_features // self.num_heads  # d_k: what the score sees
        value_dim = qkv_features // self.num_heads  # d_v
        if return_weights and self.use_chunked:
            raise ValueError("use_chunked=True never builds the attention weights; return_weights must be False")
        if coverage is not None and not self.coverage:
            raise ValueError("a coverage vector was given to an Attention with coverage=False; set coverage=True")
        if self.coverage and (self.decode or self.use_chunked or self.rotary or is_causal):
            raise ValueError(
                f"coverage=True sums the weights over query steps of a cross-attention; got "
                f"decode={self.decode}, use_chunked={self.use_chunked}, rotary={self.rotary}, "
                f"is_causal={is_causal}, expected all False (a decoder carries the coverage itself)"
            )

        project = functools.partial(
            nn.DenseGeneral, axis=-1, use_bias=self.use_bias, dtype=self.dtype, precision=self.precision,
        )
        if self.keys_only:
            # No query projection: the score sees zeros (its own parameters carry what is constant).
            dtype = inputs_q.dtype if self.dtype is None else self.dtype
            query = jnp.zeros((*inputs_q.shape[:2], self.num_heads, head_dim), dtype)
        else:
            query = project(features=(self.num_heads, head_dim), name="query")(inputs_q)
        if key_value is None:
            key = project(features=(self.num_heads, head_dim), name="key")(inputs_kv)
            value = project(features=(self.num_heads, value_dim), name="value")(inputs_kv)
        else:
            key, value = key_value
            expected_key = (key.shape[0], key.shape[1], self.num_heads, head_dim)
            expected_value = (key.shape[0], key.shape[1], self.num_heads, value_dim)
            if key.shape != expected_key or value.shape != expected_value:
                raise ValueError(
                    f"key_value must be [batch, kv_len, heads, qk_features // heads] = {expected_key} "
                    f"keys and [batch, kv_len, heads, qkv_features // heads] = {expected_value} values, "
                    f"got {key.shape} and {value.shape}; project them with features=(num_heads, "
                    f"head_dim) = {(self.num_heads, head_dim)} and {(self.num_heads, value_dim)}"
                )
        score_params = None
        if score.has_params:
            score_params = self.param("score", lambda rng: score.init(rng, self.num_heads, head_dim))

        if self.coverage:
            return self._covered(query, key, value, mask, coverage, score, score_params, deterministic, features)

        q_positions = jnp.arange(query.shape[1])[None]
        k_positions = jnp.arange(key.shape[1])[None]
        if self.decode:
            query, key, value, mask, q_positions, k_positions, is_causal = self._use_cache(
                query, key, value, mask, q_positions, is_causal
            )
        elif self.rotary:
            key = apply_rotary(key, k_positions)
        if self.rotary:
            query = apply_rotary(query, q_positions)

        dropout_rng = None
        if self.dropout_rate > 0.0 and not deterministic:
            dropout_rng = self.make_rng("dropout")
        common = dict(
            mask=mask, dropout_rng=dropout_rng, dropout_rate=self.dropout_rate,
            deterministic=deterministic, dtype=self.dtype, precision=self.precision, score=score,
            score_params=score_params, is_causal=is_causal,
        )
        weights = None
        if self.use_chunked:
            out = ops.chunked_attention(
                query, key, value, query_chunk_size=self.query_chunk_size,
                key_chunk_size=self.key_chunk_size, **common,
            )
        else:
            out, weights = ops.attention(query, key, value, return_weights=True, **common)
            if self.sow_weights:
                self.sow("intermediates", "attention_weights", weights)

        out = nn.DenseGeneral(
            features=self.out_features or features, axis=(-2, -1), use_bias=self.use_bias,
            dtype=self.dtype, precision=self.precision, name="out",
        )(out)
        return (out, weights) if return_weights else out

    def _covered(self, query, key, value, mask, coverage, score, score_params, deterministic, features):
        """The coverage path: ``(out, covered)``, its weights sown like the plain path's."""
        head_dim = query.shape[-1]
        coverage_params = self.param(
            COVERAGE_PARAM, lambda rng: score.init_coverage(rng, self.num_heads, head_dim, score_params)
        )
        dropout_rng = None
        if self.dropout_rate > 0.0 and not deterministic:
            dropout_rng = self.make_rng("dropout")
        covered = ops.coverage_attention(
            query, key, value, mask, coverage, score=score, score_params=score_params,
            coverage_params=coverage_params, dropout_rng=dropout_rng, dropout_rate=self.dropout_rate,
            deterministic=deterministic, dtype=self.dtype, precision=self.precision,
        )
        if self.sow_weights:
            self.sow("intermediates", "attention_weights", covered.weights)
        out = nn.DenseGeneral(
            features=self.out_features or features, axis=(-2, -1), use_bias=self.use_bias,
            dtype=self.dtype, precision=self.precision, name="out",
        )(covered.out)
        return out, covered._replace(out=out)

    def _use_cache(self, query, key, value, mask, q_positions, is_causal):
        """Writes this step's key/value into the cache and attends over the cached prefix.

        During ``init`` (no cache yet) the cache is sized from the full-length input and the call
        runs as a normal forward pass.
        """
        is_initialized = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", jnp.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", jnp.zeros, value.shape, value.dtype)
        cache_index = self.variable("cache", "cache_index", lambda: jnp.array(0, jnp.int32))
        k_positions = jnp.arange(key.shape[1])[None]
        if not is_initialized:
            if self.rotary:
                key = apply_rotary(key, k_positions)
            return query, key, value, mask, q_positions, k_positions, is_causal

        batch, max_length, heads, head_dim = cached_key.value.shape
        if query.shape != (batch, 1, heads, head_dim):
            raise ValueError(
                f"decode=True takes one position per call: expected query shape "
                f"{(batch, 1, heads, head_dim)}, got {query.shape}"
            )
        index = cache_index.value
        q_positions = index + jnp.zeros((1, 1), jnp.int32)
        if self.rotary:
            key = apply_rotary(key, q_positions)  # the new key sits at the query's position
        zero = jnp.array(0, index.dtype)
        key = lax.dynamic_update_slice(cached_key.value, key, (zero, index, zero, zero))
        value = lax.dynamic_update_slice(cached_value.value, value, (zero, index, zero, zero))
        cached_key.value, cached_value.value = key, value
        cache_index.value = index + 1
        # The single query sees the cached positions <= its own, never the zeros past them; this
        # replaces the causal mask (which would align the query with key 0).
        seen = jnp.broadcast_to(jnp.arange(max_length) <= index, (batch, 1, 1, max_length))
        mask = ops.combine_masks(mask, seen)
        return query, key, value, mask, q_positions, jnp.arange(max_length)[None], False
