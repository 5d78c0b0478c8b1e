"""Registries of the parts a model is assembled from: sequence encoders and poolings.

An encoder maps ``x [batch, length, d_model]`` and ``mask [batch, length]`` to ``[batch, length,
features]``; a pooling maps those to ``[batch, pooled_features]``. Each registry entry is a factory
``(config, score) -> module``; ``score`` is the resolved :class:`attnjax.ops.Score` or None. Every
factory passes ``config.compute_dtype`` on, so encoders and poolings compute in the config's dtype.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import nn as ann
from attnjax.models.config import ModelConfig
from attnjax.ops import Score
from attnjax.registry import Registry

Array = jax.Array


def layer_config(config: ModelConfig, score: Optional[Score], *, rotary: bool = False) -> ann.LayerConfig:
    """The Transformer layer hyper-parameters of ``config``."""
    return ann.LayerConfig(
        d_model=config.d_model, num_heads=config.num_heads, mlp_dim=config.mlp_dim, score=score,
        dropout_rate=config.dropout_rate, attention_dropout_rate=config.attention_dropout_rate,
        pre_norm=config.pre_norm, rotary=rotary, use_chunked=config.use_chunked,
        query_chunk_size=config.query_chunk_size, key_chunk_size=config.key_chunk_size,
        dtype=config.compute_dtype, coverage=config.coverage, attention_features=config.attention_features,
        attention_key_features=config.attention_key_features,
    )


class WordDropout(nn.Module):
    """Replaces each non-padding token of ``inputs [batch, length]`` by ``unk_id`` with probability
    ``rate`` while training (the model learns not to lean on any single word; Flax examples/sst2)."""

    rate: float
    unk_id: int

    @nn.compact
    def __call__(self, inputs: Array, mask: Array, *, deterministic: bool = True) -> Array:
        if deterministic or self.rate == 0.0:
            return inputs
        drop = jax.random.bernoulli(self.make_rng("dropout"), self.rate, inputs.shape) & mask
        return jnp.where(drop, jnp.asarray(self.unk_id, inputs.dtype), inputs)


def bigram_ids(tokens: Array, num_buckets: int) -> Array:
    """``tokens [batch, length]`` int -> ``[batch, length - 1]`` int32 in ``[0, num_buckets)``: the
    bucket of each bigram ``(tokens[i], tokens[i+1])``."""
    first, second = tokens[:, :-1].astype(jnp.uint32), tokens[:, 1:].astype(jnp.uint32)
    # A multiplicative hash of the pair, then a murmur3-style finaliser so that nearby ids spread
    # over the buckets; uint32 arithmetic wraps, which is what a hash wants.
    h = first * jnp.uint32(0x9E3779B1) ^ second
    h = (h ^ (h >> 16)) * jnp.uint32(0x85EBCA6B)
    h = (h ^ (h >> 13)) * jnp.uint32(0xC2B2AE35)
    return ((h ^ (h >> 16)) % jnp.uint32(num_buckets)).astype(jnp.int32)


class HashedBigramEmbed(nn.Module):
    """Embeddings of hashed word bigrams (fastText's bigram features, Joulin et al. 2017).

    ``tokens [batch, length]`` int and ``mask [batch, length]`` -> ``[batch, length, features]``:
    position i holds the embedding of the bigram ``(tokens[i], tokens[i+1])`` (:func:`bigram_ids`),
    and zeros where ``i + 1`` is padding or past the end. A hash instead of a bigram vocabulary keeps
    the model independent of the tokenizer; colliding bigrams share a row.
    """

    num_buckets: int
    features: int
    dtype: Any = None

    @nn.compact
    def __call__(self, tokens: Array, mask: Array) -> Array:
        both = (mask[:, :-1] & mask[:, 1:])[..., None]
        x = nn.Embed(self.num_buckets, self.features, dtype=self.dtype, name="embed")(bigram_ids(tokens, self.num_buckets))
        x = jnp.where(both, x, jnp.zeros((), x.dtype))
        return jnp.pad(x, ((0, 0), (0, 1), (0, 0)))


class PositionalEmbedding(nn.Module):
    """Adds the configured additive positional encoding (none for ``rotary``/``none``)."""

    positional: str = "sinusoidal"
    max_length: int = 512
    decode: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        additive = ann.get_positional(self.positional).additive
        if additive is None:
            return x
        return additive(max_length=self.max_length, decode=self.decode, name="encoding")(x)


class TransformerSequenceEncoder(nn.Module):
    """Positional encoding, dropout and a Transformer encoder stack."""

    config: ModelConfig
    score: Optional[Score]

    @nn.compact
    def __call__(self, x: Array, mask: Array, *, deterministic: bool = True) -> Array:
        cfg = self.config
        if x.shape[-1] != cfg.d_model:  # embeddings of another width (config.embed_dim) join the residual stream
            x = nn.Dense(cfg.d_model, dtype=cfg.compute_dtype, name="embed_projection")(x)
        x = PositionalEmbedding(cfg.positional, cfg.max_length, name="positional")(x)
        x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
        layers = layer_config(cfg, self.score, rotary=ann.get_positional(cfg.positional).rotary)
        return ann.TransformerEncoder(layers, cfg.num_layers, name="transformer")(
            x, mask, deterministic=deterministic
        )


class RecurrentSequenceEncoder(nn.Module):
    """A bidirectional LSTM/GRU; outputs ``[batch, length, 2 * d_model]``."""

    cell: str
    hidden_size: int
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, mask: Array, *, deterministic: bool = True) -> Array:
        del deterministic
        encoder = ann.RNNEncoder(self.cell, self.hidden_size, dtype=self.dtype, name="rnn")
        outputs, _ = encoder(x, mask)
        return outputs


class BagEncoder(nn.Module):
    """No encoder: every position keeps its embedding, so only the pooling lets words meet (with
    mean pooling and bigram features this is fastText; with attention pooling, a learned query
    weighting the words and bigrams)."""

    def __call__(self, x: Array, mask: Array, *, deterministic: bool = True) -> Array:
        del mask, deterministic
        return x


EncoderFactory = Callable[[ModelConfig, Optional[Score]], nn.Module]


def recurrent_encoder(cell: str) -> EncoderFactory:
    """The factory of a bidirectional ``cell`` encoder (no attention inside: the score is unused)."""
    return lambda cfg, score: RecurrentSequenceEncoder(
        cell, cfg.d_model, cfg.compute_dtype, name="encoder"
    )


ENCODERS: Registry[EncoderFactory] = Registry("encoder")
ENCODERS.register("transformer", lambda cfg, score: TransformerSequenceEncoder(cfg, score, name="encoder"))
ENCODERS.register("lstm", recurrent_encoder("lstm"))
ENCODERS.register("gru", recurrent_encoder("gru"))
ENCODERS.register("bag", lambda cfg, score: BagEncoder(name="encoder"))


class FunctionPooling(nn.Module):
    """Wraps a parameter-free pooling function ``(x, mask) -> [batch, features]``."""

    fn: Callable[[Array, Array], Array]

    def __call__(self, x: Array, mask: Array) -> Array:
        return self.fn(x, mask)


@dataclasses.dataclass(frozen=True)
class PoolingSpec:
    """A pooling factory; ``prepend_cls`` asks the model for a learned ``[CLS]`` token at position 0;
    ``uses_attention`` marks poolings that are themselves attention."""

    make: Callable[[ModelConfig, Optional[Score]], nn.Module]
    prepend_cls: bool = False
    uses_attention: bool = False


POOLINGS: Registry[PoolingSpec] = Registry("pooling")
POOLINGS.register("cls", PoolingSpec(lambda cfg, score: FunctionPooling(ann.first_pool, name="pooling"), prepend_cls=True))
POOLINGS.register("mean", PoolingSpec(lambda cfg, score: FunctionPooling(ann.mean_pool, name="pooling")))
POOLINGS.register(
    "attention",
    PoolingSpec(
        lambda cfg, score: ann.QueryAttentionPooling(
            cfg.num_heads, score, qkv_features=cfg.attention_features,
            qk_features=cfg.attention_key_features, dtype=cfg.compute_dtype, name="pooling",
        ),
        uses_attention=True,
    ),
)
POOLINGS.register(
    "structured",
    PoolingSpec(
        lambda cfg, score: ann.AttentionPooling(
            cfg.pooling_hidden, cfg.num_hops, dtype=cfg.compute_dtype, name="pooling"
        ),
        uses_attention=True,
    ),
)
