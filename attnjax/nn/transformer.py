"""Transformer encoder and decoder stacks (Vaswani et al. 2017) with any attention score.

Inputs are already embedded: ``x [batch, length, d_model]`` with a token mask ``[batch, length]``
(True = real token). Each sub-layer is residual with dropout, layer-normed before (``pre_norm``,
the stable default) or after (the original post-norm). ``LayerConfig.score=None`` removes the
attention sub-layer of the encoder, leaving a position-wise MLP over a bag of embeddings: the
no-attention baseline.

``LayerConfig.coverage`` gives the decoder's cross-attention coverage (See et al. 2017;
:mod:`attnjax.ops.coverage`): each layer's cross-attention reads the sum of its own earlier
positions' weights (heads averaged), carried in the ``cache`` collection when decoding, and the
decoder returns ``(y, coverage_loss [batch, tgt_len])``, the loss averaged over layers.

``return_cross_weights=True`` makes the decoder also return its last layer's cross-attention
weights ``[batch, heads, tgt_len, src_len]`` (last in the tuple): what a pointer-generator copies
with. It needs the full weights, so not ``use_chunked``.

``LayerConfig.dtype`` is the compute dtype of every projection, layer norm and attention (e.g.
``jnp.bfloat16``); parameters stay float32 and the attention softmax runs in float32 regardless.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import ops
from attnjax.nn.attention import Attention
from attnjax.ops import Score

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class LayerConfig:
    """Hyper-parameters shared by every layer of a stack."""

    d_model: int
    num_heads: int
    mlp_dim: int
    score: Optional[Union[str, Score]] = "scaled_dot"
    dropout_rate: float = 0.0
    attention_dropout_rate: float = 0.0
    pre_norm: bool = True
    rotary: bool = False
    use_chunked: bool = False
    query_chunk_size: Optional[int] = None  # None: chosen by attnjax.ops.chunked_attention
    key_chunk_size: Optional[int] = None
    dtype: Any = None  # compute dtype; None: inferred from inputs and (float32) params
    coverage: bool = False  # the decoder's cross-attention reads and is penalised by coverage
    attention_features: Optional[int] = None  # q/k/v width of every attention; None: d_model
    attention_key_features: Optional[int] = None  # q/k width alone (d_k * heads); None: attention_features

    def attention(self, *, name: str, rotary: bool = False, decode: bool = False,
                  coverage: bool = False) -> Attention:
        return Attention(
            num_heads=self.num_heads, score=self.score, qkv_features=self.attention_features,
            qk_features=self.attention_key_features, dropout_rate=self.attention_dropout_rate,
            rotary=rotary, decode=decode, use_chunked=self.use_chunked,
            query_chunk_size=self.query_chunk_size, key_chunk_size=self.key_chunk_size,
            coverage=coverage, dtype=self.dtype, name=name,
        )


class FeedForward(nn.Module):
    """Position-wise ``Dense(mlp_dim) -> gelu -> dropout -> Dense(d_model)``."""

    mlp_dim: int
    dropout_rate: float = 0.0
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, *, deterministic: bool = True) -> Array:
        h = nn.gelu(nn.Dense(self.mlp_dim, dtype=self.dtype, name="hidden")(x))
        h = nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
        return nn.Dense(x.shape[-1], dtype=self.dtype, name="output")(h)


class Residual(nn.Module):
    """``x + dropout(f(norm(x)))`` (pre-norm) or ``norm(x + dropout(f(x)))`` (post-norm)."""

    pre_norm: bool = True
    dropout_rate: float = 0.0
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, f: Callable[[Array], Array], *, deterministic: bool = True) -> Array:
        # flax computes the normalisation statistics in float32 even for a narrower dtype.
        norm = nn.LayerNorm(dtype=self.dtype, name="norm")
        drop = nn.Dropout(self.dropout_rate)
        if self.pre_norm:
            return x + drop(f(norm(x)), deterministic=deterministic)
        return norm(x + drop(f(x), deterministic=deterministic))


class EncoderLayer(nn.Module):
    """Self-attention (unless ``config.score`` is None) and a feed-forward block."""

    config: LayerConfig

    @nn.compact
    def __call__(self, x: Array, mask: Array, *, deterministic: bool = True) -> Array:
        """``x [batch, length, d_model]``, ``mask [batch, length]`` -> ``[batch, length, d_model]``."""
        cfg = self.config
        residual = lambda name: Residual(  # noqa: E731
            cfg.pre_norm, cfg.dropout_rate, cfg.dtype, name=name
        )
        if cfg.score is not None:
            attend = cfg.attention(name="self_attention", rotary=cfg.rotary)
            x = residual("attention_block")(
                x, lambda h: attend(h, mask=ops.key_padding_mask(mask), deterministic=deterministic),
                deterministic=deterministic,
            )
        ffn = FeedForward(cfg.mlp_dim, cfg.dropout_rate, cfg.dtype, name="feed_forward")
        return residual("feed_forward_block")(
            x, lambda h: ffn(h, deterministic=deterministic), deterministic=deterministic
        )


class DecoderLayer(nn.Module):
    """Causal self-attention (cached when ``decode``), cross-attention, feed-forward.

    With ``config.coverage`` it returns ``(y, coverage_loss [batch, tgt_len])``; the coverage is
    the ``cache`` variable ``coverage [batch, src_len]`` when decoding. With
    ``return_cross_weights`` the cross-attention weights ``[batch, heads, tgt_len, src_len]`` come
    last: ``(y, weights)`` or ``(y, coverage_loss, weights)``.
    """

    config: LayerConfig
    decode: bool = False
    return_cross_weights: bool = False

    @nn.compact
    def __call__(
        self, y: Array, encoded: Array, encoded_mask: Array, *, deterministic: bool = True
    ) -> Array:
        """``y [batch, tgt_len, d]``, ``encoded [batch, src_len, d]``, ``encoded_mask [batch, src_len]``."""
        cfg = self.config
        if cfg.score is None:
            raise ValueError("a Transformer decoder needs an attention score; LayerConfig.score is None")
        residual = lambda name: Residual(  # noqa: E731
            cfg.pre_norm, cfg.dropout_rate, cfg.dtype, name=name
        )
        self_attend = cfg.attention(name="self_attention", rotary=cfg.rotary, decode=self.decode)
        y = residual("self_attention_block")(
            y, lambda h: self_attend(h, is_causal=True, deterministic=deterministic),
            deterministic=deterministic,
        )
        cross_mask = ops.key_padding_mask(encoded_mask)
        extras = []  # the coverage loss and/or the cross-attention weights, in that order
        if cfg.coverage:
            y, loss, weights = self._covered_cross_attention(y, encoded, cross_mask, residual, deterministic)
            extras.append(loss)
        else:
            cross_attend = cfg.attention(name="cross_attention")
            seen = {}

            def attend(h):
                if not self.return_cross_weights:
                    return cross_attend(h, encoded, cross_mask, deterministic=deterministic)
                out, seen["weights"] = cross_attend(h, encoded, cross_mask, return_weights=True, deterministic=deterministic)
                return out

            y = residual("cross_attention_block")(y, attend, deterministic=deterministic)
            weights = seen.get("weights")
        if self.return_cross_weights:
            extras.append(weights)
        ffn = FeedForward(cfg.mlp_dim, cfg.dropout_rate, cfg.dtype, name="feed_forward")
        y = residual("feed_forward_block")(
            y, lambda h: ffn(h, deterministic=deterministic), deterministic=deterministic
        )
        return (y, *extras) if extras else y

    def _covered_cross_attention(self, y, encoded, cross_mask, residual, deterministic):
        cross_attend = self.config.attention(name="cross_attention", coverage=True)
        start = None  # training: zeros before the first position
        if self.decode:
            # The cache starts at zeros, the coverage before the first position; init only sizes it.
            is_initialized = self.has_variable("cache", "coverage")
            cached = self.variable("cache", "coverage", jnp.zeros, encoded.shape[:2], jnp.float32)
            start = cached.value if is_initialized else None
        covered = {}

        def attend(h):
            out, covered["value"] = cross_attend(
                h, encoded, cross_mask, coverage=start, deterministic=deterministic
            )
            return out

        y = residual("cross_attention_block")(y, attend, deterministic=deterministic)
        c = covered["value"]
        if self.decode and is_initialized:
            cached.value = c.final_coverage
        return y, ops.coverage_loss(c.weights, c.coverage), c.weights


class TransformerEncoder(nn.Module):
    """``num_layers`` encoder layers (plus a final layer norm when pre-norm)."""

    config: LayerConfig
    num_layers: int

    @nn.compact
    def __call__(self, x: Array, mask: Array, *, deterministic: bool = True) -> Array:
        """``x [batch, length, d_model]``, ``mask [batch, length]`` -> ``[batch, length, d_model]``."""
        for i in range(self.num_layers):
            x = EncoderLayer(self.config, name=f"layer_{i}")(x, mask, deterministic=deterministic)
        if self.config.pre_norm:
            x = nn.LayerNorm(dtype=self.config.dtype, name="final_norm")(x)
        return x


class TransformerDecoder(nn.Module):
    """``num_layers`` decoder layers (plus a final layer norm when pre-norm)."""

    config: LayerConfig
    num_layers: int
    decode: bool = False
    return_cross_weights: bool = False

    @nn.compact
    def __call__(
        self, y: Array, encoded: Array, encoded_mask: Array, *, deterministic: bool = True
    ) -> Array:
        """``y [batch, tgt_len, d_model]`` -> ``[batch, tgt_len, d_model]``; with ``config.coverage``
        ``(y, coverage_loss [batch, tgt_len])``, the layers' mean; with ``return_cross_weights`` the
        last layer's cross-attention weights ``[batch, heads, tgt_len, src_len]`` come last."""
        losses, weights = [], None
        for i in range(self.num_layers):
            last = i == self.num_layers - 1
            out = DecoderLayer(self.config, self.decode, self.return_cross_weights and last, name=f"layer_{i}")(
                y, encoded, encoded_mask, deterministic=deterministic
            )
            y, *extras = out if isinstance(out, tuple) else (out,)
            if self.config.coverage:
                losses.append(extras.pop(0))
            if extras:
                weights = extras.pop(0)
        if self.config.pre_norm:
            y = nn.LayerNorm(dtype=self.config.dtype, name="final_norm")(y)
        outputs = (y,) + ((sum(losses) / len(losses),) if self.config.coverage else ())
        outputs += (weights,) if self.return_cross_weights else ()
        return outputs if len(outputs) > 1 else y
