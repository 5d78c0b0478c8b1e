"""``seq2seq_rnn``: the recurrent encoder-decoder with attention, the summarization baseline.

A bidirectional LSTM/GRU encoder (Rush et al. 2015; Nallapati et al. 2016), its final states
reduced to the decoder's initial state (See et al. 2017), and an attention decoder
(:class:`attnjax.nn.RNNDecoder`): ``attention="additive"`` is Bahdanau attention, ``dot`` and
``general`` are Luong's; ``attention="none"`` is the plain encoder-decoder that passes only the
final encoder state (Sutskever et al. 2014; Cho et al. 2014).

``__call__(inputs [batch, src_len], targets_in [batch, tgt_len])`` -> ``[batch, tgt_len, vocab]``.
Without ``pointer`` these are logits. With ``pointer`` (the pointer-generator of See et al. 2017)
they are log-probabilities of ``p_gen * P_vocab + (1 - p_gen) * P_copy``, where ``P_copy`` puts the
attention weight of each source position on that position's token id. With several heads the
copy weights are a learned per-step mixture of the heads (starting from their mean; see
:class:`attnjax.nn.AttentionDecoderCell`), so the pointer can copy with the heads that point. The extended vocabulary is
the vocabulary itself: source tokens are copied by their (in-vocabulary) ids, so out-of-vocabulary
words must already be mapped to ids (e.g. a per-batch OOV range reserved inside ``vocab_size``).
Log-probabilities are valid logits (``log_softmax`` leaves them unchanged), so the same
cross-entropy loss trains both.

``coverage=True`` (See et al. 2017, section 2.3) gives the attention a coverage vector, the sum
of the attention distributions of the steps before; the score reads it (additive: ``w_c c_i`` inside
its tanh; any other score: a learned per-head ``w_c * c_i`` added to its logits). The coverage is
part of the decoder's carry, so of the decoding cache, and the per-step coverage loss
``sum_i min(a_i, c_i)`` times ``coverage_loss_weight`` is sown as the auxiliary loss ``coverage``
(:meth:`EncoderDecoder.sow_loss`).

``dtype="bfloat16"`` (or ``float16``) runs every layer in that dtype on float32 parameters (the
recurrent carry, and so the decoding cache, too); the copy distribution and the outputs are float32.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import nn as ann
from attnjax.models.coverage_phase import COVERAGE_LOSS
from attnjax.models.config import NO_ATTENTION, ModelConfig, check_choice, refuse_adversarial
from attnjax.models.encoder_decoder import Array, Encoded, EncoderDecoder
from attnjax.models.pointer import pointer_log_probs
from attnjax.models.registry import MODELS, ModelSpec, token_inputs
from attnjax.ops import list_scores


class Seq2SeqRNN(EncoderDecoder):
    """Recurrent encoder-decoder with optional attention and copying; see the module docstring."""

    def setup(self) -> None:
        cfg = self.config
        score = cfg.score  # resolved once; the decoder receives the Score object (or None)
        dtype = cfg.compute_dtype
        self.embed = nn.Embed(cfg.vocab_size, cfg.d_model, dtype=dtype, name="embed")
        self.dropout = nn.Dropout(cfg.dropout_rate)
        self.encoder = ann.RNNEncoder(cfg.cell, cfg.d_model, bidirectional=True, dtype=dtype)
        # One reduction per leaf of the cell's carry (LSTM: (c, h); GRU: h); unused ones get no params.
        self.bridge = [nn.Dense(cfg.d_model, dtype=dtype, name=f"bridge_{i}") for i in range(2)]
        self.decoder = ann.RNNDecoder(
            cfg.cell, cfg.d_model, score=score, num_heads=cfg.num_heads, decode=self.decode,
            dtype=dtype, coverage=cfg.coverage, mix_heads=cfg.pointer,
        )
        self.logits = nn.Dense(cfg.vocab_size, dtype=dtype)
        if cfg.pointer:
            self.generate_gate = nn.Dense(1, dtype=dtype)

    def encode(self, inputs: Array, *, deterministic: bool = True) -> Encoded:
        """``inputs [batch, src_len]`` -> memory ``[batch, src_len, 2 d]``, mask, ids, decoder carry and,
        with attention, the decoder's keys and values of the memory (``memory_key_value``), projected
        here once so that decoding one token per call does not project them again at every token."""
        mask = inputs != self.config.pad_id
        x = self.dropout(self.embed(inputs), deterministic=deterministic)
        memory, (forward, backward) = self.encoder(x, mask)
        leaves, treedef = jax.tree.flatten(forward)
        reduced = [
            jnp.tanh(dense(jnp.concatenate([f, b], axis=-1)))
            for dense, f, b in zip(self.bridge, leaves, jax.tree.leaves(backward))
        ]
        carry = jax.tree.unflatten(treedef, reduced)
        encoded = {"memory": memory, "mask": mask, "source_ids": inputs, "carry": carry}
        if self.config.score is not None:
            encoded["memory_key_value"] = self.decoder.project_memory(memory)
        return encoded

    def decode_logits(self, encoded: Encoded, targets_in: Array, *, deterministic: bool = True) -> Array:
        """``targets_in [batch, tgt_len]`` -> ``[batch, tgt_len, vocab]`` (log-probs with ``pointer``)."""
        y = self.dropout(self.embed(targets_in), deterministic=deterministic)
        states, contexts, weights, *coverage_loss = self.decoder(
            y, encoded["carry"], encoded["memory"], encoded["mask"], encoded.get("memory_key_value")
        )
        for loss in coverage_loss:  # one with config.coverage, none without
            self.sow_loss(COVERAGE_LOSS, self.config.coverage_loss_weight * loss)
        logits = self.logits(self.dropout(states, deterministic=deterministic)).astype(jnp.float32)
        if not self.config.pointer:
            return logits
        gate = self.generate_gate(jnp.concatenate([contexts, states, y], axis=-1))
        return pointer_log_probs(logits, gate, weights, encoded["source_ids"])


def check_seq2seq_rnn(config: ModelConfig) -> None:
    refuse_adversarial(config)
    check_choice("cell", config.cell, ann.CELLS)
    if config.pointer and config.attention == NO_ATTENTION:
        # Copying distributes the attention weights over source tokens: it needs attention.
        check_choice("attention", config.attention, list_scores())


# Copying points with the attention weights: without attention there is nothing to point with.
# Without attention there is nothing to copy with and no attention to cover. Revision 1
# (2026-12-02): the decoder projects its memory once (RNNDecoder.memory_key/value) and multi-head
# pointers mix their heads, a new parameter layout.
MODELS.register(
    "seq2seq_rnn",
    ModelSpec(Seq2SeqRNN, check_seq2seq_rnn, token_inputs(2), {"pointer": False, "coverage": False}, revision=1),
)
