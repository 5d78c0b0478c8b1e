"""``seq2seq_transformer``: a Transformer encoder-decoder with the chosen score everywhere.

``__call__(inputs [batch, src_len], targets_in [batch, tgt_len])`` -> logits ``[batch, tgt_len,
vocab_size]``; ``targets_in`` is the decoder input (targets shifted right behind a BOS token).
Source and target share one embedding table (one vocabulary, as in summarization). The score named
by ``attention`` is used in encoder self-attention, decoder causal self-attention and
cross-attention.

For decoding (:mod:`attnjax.models.decoding`): ``encode`` runs once, then a clone with
``decode=True`` calls ``decode_step`` one token at a time, its keys/values cached.

``coverage=True`` gives every decoder layer's cross-attention coverage (See et al. 2017): the score
reads the sum of the layer's cross-attention weights (heads averaged) at the earlier target
positions (additive: ``w_c c_i`` in its tanh; any other score: a learned per-head ``w_c * c_i`` on its
logits), the coverage is cached when decoding, and the coverage loss ``sum_i min(a_i, c_i)``,
averaged over layers, times ``coverage_loss_weight`` is sown as the auxiliary loss ``coverage``.

``pointer=True`` makes it a pointer-generator (See et al. 2017; Transformer pointers as in
Gehrmann et al. 2018): the outputs are the log-probabilities of ``p_gen P_vocab + (1 - p_gen)
P_copy`` (:mod:`attnjax.models.pointer`), copying with the last decoder layer's cross-attention,
with several heads mixed by learned per-position shares ``softmax(W [y; e])`` (``y`` the decoder output,
``e`` the input embedding; the kernel starts at zero, so training starts from the heads' mean, as
in the RNN pointer) and ``p_gen = sigmoid(w [y; e])``. It needs the cross-attention weights, so
not ``use_chunked``.

``dtype="bfloat16"`` (or ``float16``) runs every layer in that dtype on float32 parameters (the
key/value cache takes it too); logits and log-probs come back as float32.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import nn as ann
from attnjax.models.components import PositionalEmbedding, layer_config
from attnjax.models.coverage_phase import COVERAGE_LOSS
from attnjax.models.config import NO_ATTENTION, ModelConfig, check_choice, refuse_adversarial
from attnjax.models.encoder_decoder import Array, Encoded, EncoderDecoder
from attnjax.models.pointer import pointer_log_probs
from attnjax.models.registry import MODELS, ModelSpec, token_inputs
from attnjax.ops import list_scores

TOKEN_EMBEDDING_INIT = nn.initializers.normal(stddev=1.0)


class Seq2SeqTransformer(EncoderDecoder):
    """Transformer encoder-decoder; see the module docstring."""

    def setup(self) -> None:
        cfg = self.config
        score = cfg.score  # resolved once; the layers receive the Score object
        rotary = ann.get_positional(cfg.positional).rotary
        layers = layer_config(cfg, score, rotary=rotary)
        # Token embeddings start at the scale of the sinusoidal table they are added to (entries of
        # size 1), as Flax's WMT/lm1b examples initialise them (Vaswani et al. 2017 multiply by
        # sqrt(d_model) instead). Flax's default, std 1/sqrt(d_model), left the tokens about 11x under
        # the positions at d_model 128, and the CNN/DailyMail pointer-generator learned slower for it.
        self.embed = nn.Embed(
            cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype, name="embed",
            embedding_init=TOKEN_EMBEDDING_INIT,
        )
        self.source_positions = PositionalEmbedding(cfg.positional, cfg.max_length)
        self.target_positions = PositionalEmbedding(cfg.positional, cfg.max_length, decode=self.decode)
        self.dropout = nn.Dropout(cfg.dropout_rate)
        self.encoder = ann.TransformerEncoder(layers, cfg.num_layers)
        self.decoder = ann.TransformerDecoder(
            layers, cfg.num_decoder_layers, decode=self.decode, return_cross_weights=cfg.pointer
        )
        self.logits = nn.Dense(cfg.vocab_size, dtype=cfg.compute_dtype)
        if cfg.pointer:
            self.generate_gate = nn.Dense(1, dtype=cfg.compute_dtype)
            if cfg.num_heads > 1:  # one head copies with its own weights, as the RNN pointer does
                self.copy_heads = nn.Dense(cfg.num_heads, kernel_init=nn.initializers.zeros, dtype=cfg.compute_dtype)

    def encode(self, inputs: Array, *, deterministic: bool = True) -> Encoded:
        """``inputs [batch, src_len]`` -> ``{"memory": [batch, src_len, d], "mask": [batch, src_len]}``."""
        mask = inputs != self.config.pad_id
        x = self.dropout(self.source_positions(self.embed(inputs)), deterministic=deterministic)
        return {"memory": self.encoder(x, mask, deterministic=deterministic), "mask": mask, "source_ids": inputs}

    def decode_logits(self, encoded: Encoded, targets_in: Array, *, deterministic: bool = True) -> Array:
        """``targets_in [batch, tgt_len]`` -> logits ``[batch, tgt_len, vocab]`` float32 (log-probs with
        ``pointer``)."""
        cfg = self.config
        embedded = self.embed(targets_in)
        y = self.dropout(self.target_positions(embedded), deterministic=deterministic)
        out = self.decoder(y, encoded["memory"], encoded["mask"], deterministic=deterministic)
        y, *extras = out if isinstance(out, tuple) else (out,)
        if cfg.coverage:
            self.sow_loss(COVERAGE_LOSS, cfg.coverage_loss_weight * extras.pop(0))
        logits = self.logits(y).astype(jnp.float32)
        if not cfg.pointer:
            return logits
        features = jnp.concatenate([y, embedded], axis=-1)
        weights = extras.pop(0).astype(jnp.float32)  # [batch, heads, tgt_len, src_len]
        if cfg.num_heads == 1:
            weights = weights[:, 0]
        else:
            shares = jax.nn.softmax(self.copy_heads(features).astype(jnp.float32), axis=-1)  # [batch, tgt_len, heads]
            weights = jnp.einsum("bth,bhts->bts", shares, weights)
        return pointer_log_probs(logits, self.generate_gate(features), weights, encoded["source_ids"])


def check_seq2seq_transformer(config: ModelConfig) -> None:
    refuse_adversarial(config)
    # The no-attention baseline is seq2seq_rnn with attention="none": a Transformer without
    # attention has no way to read the source.
    if config.attention == NO_ATTENTION:
        check_choice("attention", config.attention, list_scores())
    if config.pointer and config.use_chunked:
        raise ValueError(
            "config.pointer=True is not allowed with use_chunked=True for model='seq2seq_transformer': the "
            "pointer copies with the cross-attention weights, which chunked attention never builds; set one of them to False"
        )


MODELS.register(
    "seq2seq_transformer", ModelSpec(Seq2SeqTransformer, check_seq2seq_transformer, token_inputs(2))
)
