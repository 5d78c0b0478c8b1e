"""The interface the summarization models share, and the two methods that follow from it.

A subclass defines ``encode(inputs [batch, src_len], *, deterministic) -> encoded`` (a dict the
decoder reads) and ``decode_logits(encoded, targets_in [batch, tgt_len], *, deterministic) ->
[batch, tgt_len, vocab]``. Training calls the module (both in one pass); decoding
(:mod:`attnjax.models.decoding`) calls ``encode`` once, then ``decode_step`` on a ``decode=True``
clone one token at a time.

A model may add auxiliary per-token losses (the coverage loss, See et al. 2017): ``decode_logits``
sows them, already multiplied by their weight, as ``[batch, tgt_len]`` arrays into the
:data:`AUX_LOSSES` collection (:meth:`EncoderDecoder.sow_loss`); the summarization task adds them,
masked like the cross-entropy, to its loss when it applies the model with that collection mutable.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.models.config import ModelConfig

Array = jax.Array
Encoded = dict[str, Any]

AUX_LOSSES = "losses"  # the collection of auxiliary per-token losses


class EncoderDecoder(nn.Module):
    """Base of the seq2seq models: ``config`` and ``decode`` (cache the decoder's state)."""

    config: ModelConfig
    decode: bool = False

    def sow_loss(self, name: str, per_token: Array) -> None:
        """Adds ``per_token [batch, tgt_len]`` (float32, weighted) to the :data:`AUX_LOSSES` collection
        as ``name``; a no-op unless the caller made the collection mutable."""
        self.sow(AUX_LOSSES, name, per_token.astype(jnp.float32))

    def decode_step(self, encoded: Encoded, tokens: Array) -> Array:
        """One cached step (``decode=True``): ``tokens [batch]`` -> log-probs ``[batch, vocab]``."""
        logits = self.decode_logits(encoded, tokens[:, None])
        return jax.nn.log_softmax(logits[:, -1].astype(jnp.float32))

    def __call__(self, inputs: Array, targets_in: Array, *, deterministic: bool = True) -> Array:
        encoded = self.encode(inputs, deterministic=deterministic)
        return self.decode_logits(encoded, targets_in, deterministic=deterministic)
