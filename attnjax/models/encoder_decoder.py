"""The interface the summarization models share, and the two methods that follow from it.

A subclass defines ``encode(inputs [batch, src_len], *, deterministic) -> encoded`` (a dict the
decoder reads) and ``decode_logits(encoded, targets_in [batch, tgt_len], *, deterministic) ->
[batch, tgt_len, vocab]``. Training calls the module (both in one pass); decoding
(:mod:`attnjax.models.decoding`) calls ``encode`` once, then ``decode_step`` on a ``decode=True``
clone one token at a time.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.models.config import ModelConfig

Array = jax.Array
Encoded = dict[str, Any]


class EncoderDecoder(nn.Module):
    """Base of the seq2seq models: ``config`` and ``decode`` (cache the decoder's state)."""

    config: ModelConfig
    decode: bool = False

    def decode_step(self, encoded: Encoded, tokens: Array) -> Array:
        """One cached step (``decode=True``): ``tokens [batch]`` -> log-probs ``[batch, vocab]``."""
        logits = self.decode_logits(encoded, tokens[:, None])
        return jax.nn.log_softmax(logits[:, -1].astype(jnp.float32))

    def __call__(self, inputs: Array, targets_in: Array, *, deterministic: bool = True) -> Array:
        encoded = self.encode(inputs, deterministic=deterministic)
        return self.decode_logits(encoded, targets_in, deterministic=deterministic)
