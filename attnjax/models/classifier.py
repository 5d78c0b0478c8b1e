"""``classifier``: tokens -> embedding -> encoder -> pooling -> logits.

``inputs [batch, length]`` int32 (``pad_id`` = padding, masked everywhere) -> logits
``[batch, num_classes]``. The encoder (``transformer``, ``lstm``, ``gru``, ``bag``) and pooling (``cls``,
``mean``, ``attention``, ``structured``) come from registries; ``attention`` names the score used by
every attention layer. ``attention="none"`` is the no-attention baseline: the Transformer encoder
loses its self-attention (a position-wise MLP over a bag of embeddings) or the RNN runs alone, and
pooling must be ``mean``. While training, ``word_dropout_rate`` replaces input tokens by ``unk_id`` and
``embedding_dropout_rate`` drops embedding features (both 0 by default); ``ngram_buckets`` adds
hashed word-bigram embeddings to the token embeddings (fastText's features; 0 by default).
``embed_dim`` sets the embedding width apart from the encoder's ``d_model`` (None: the same).
``encoder_dropout_rate`` drops features of the encoder's outputs before the pooling, and
``head_hidden`` > 0 puts a tanh hidden layer between the pooled vector and the logits (both off by
default; Flax's examples/sst2 uses both). ``adversarial_epsilon`` > 0 trains on the embeddings moved
against the loss as well (Miyato et al. 2017; the step is in :mod:`attnjax.train.classification`).

``dtype="bfloat16"`` (or ``float16``) runs every layer in that dtype on float32 parameters; the
logits come back as float32, so the loss is computed in float32.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.models.components import ENCODERS, POOLINGS, HashedBigramEmbed, WordDropout
from attnjax.models.config import NO_ATTENTION, ModelConfig, check_choice
from attnjax.models.registry import MODELS, ModelSpec, token_inputs

Array = jax.Array

# The name of the [batch, length, width] embedding perturbation in the "perturbations" collection.
EMBEDDING_PERTURBATION = "embedding"


class Classifier(nn.Module):
    """Sequence classifier; see the module docstring."""

    config: ModelConfig

    @nn.compact
    def __call__(self, inputs: Array, *, deterministic: bool = True) -> Array:
        """``inputs [batch, length]`` int -> logits ``[batch, num_classes]`` float32."""
        cfg = self.config
        score = cfg.score  # resolved once here; everything below receives the Score object
        dtype = cfg.compute_dtype
        pooling = POOLINGS.get(cfg.pooling)
        mask = inputs != cfg.pad_id
        tokens = WordDropout(cfg.word_dropout_rate, cfg.unk_id, name="word_dropout")(inputs, mask, deterministic=deterministic)
        width = cfg.embed_dim or cfg.d_model
        x = nn.Embed(cfg.vocab_size, width, dtype=dtype, name="embed")(tokens)
        if cfg.ngram_buckets:
            x = x + HashedBigramEmbed(cfg.ngram_buckets, width, dtype, name="bigrams")(tokens, mask)
        # Where adversarial training moves the embeddings (a no-op unless a "perturbations" collection
        # is passed to apply: attnjax.train.classification).
        x = self.perturb(EMBEDDING_PERTURBATION, x)
        x = nn.Dropout(cfg.embedding_dropout_rate)(x, deterministic=deterministic)
        if pooling.prepend_cls:
            cls = self.param("cls", nn.initializers.normal(0.02), (1, 1, width)).astype(dtype)
            x = jnp.concatenate([jnp.broadcast_to(cls, (x.shape[0], 1, width)), x], axis=1)
            mask = jnp.concatenate([jnp.ones((x.shape[0], 1), bool), mask], axis=1)
        x = ENCODERS.get(cfg.encoder)(cfg, score)(x, mask, deterministic=deterministic)
        x = nn.Dropout(cfg.encoder_dropout_rate)(x, deterministic=deterministic)
        pooled = pooling.make(cfg, score)(x, mask)
        pooled = nn.Dropout(cfg.dropout_rate)(pooled, deterministic=deterministic)
        if cfg.head_hidden:
            pooled = jnp.tanh(nn.Dense(cfg.head_hidden, dtype=dtype, name="head_hidden")(pooled))
            pooled = nn.Dropout(cfg.dropout_rate)(pooled, deterministic=deterministic)
        logits = nn.Dense(cfg.num_classes, dtype=dtype, name="logits")(pooled)
        return logits.astype(jnp.float32)


def check_classifier(config: ModelConfig) -> None:
    check_choice("encoder", config.encoder, ENCODERS.names())
    check_choice("pooling", config.pooling, POOLINGS.names())
    if config.coverage:
        raise ValueError(
            "config.coverage=True is not allowed for model='classifier': coverage is for a decoder "
            "attending the source (seq2seq_rnn, seq2seq_transformer); set coverage=False"
        )
    if config.attention == NO_ATTENTION:
        # The baseline has no attention anywhere, and a [CLS] token without token mixing sees
        # only itself: mean pooling is the one pooling that fits.
        check_choice("pooling", config.pooling, ("mean",))


# No attention anywhere: the attention pooling becomes mean pooling.
MODELS.register("classifier", ModelSpec(Classifier, check_classifier, token_inputs(1), {"pooling": "mean"}))
