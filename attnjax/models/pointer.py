"""The pointer-generator's output distribution (See et al. 2017), shared by the seq2seq models.

``p_gen * P_vocab + (1 - p_gen) * P_copy``, where ``P_copy`` puts each source position's attention
weight on that position's token id. The extended vocabulary is the vocabulary itself: source
tokens are copied by their (in-vocabulary) ids.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def copy_distribution(weights: Array, source_ids: Array, vocab_size: int) -> Array:
    """``P_copy [batch, tgt_len, vocab_size]``: each step's attention ``weights [batch, tgt_len,
    src_len]`` summed onto the ids ``source_ids [batch, src_len]`` of the source tokens.

    A scatter-add, ``batch * tgt_len * src_len`` additions; the one-hot product that says the same
    (``weights @ one_hot(source_ids)``) is ``vocab_size`` times that work and memory (7x the
    pointer's step time at an 8k vocabulary).
    """
    batch, tgt_len, _ = weights.shape
    rows = jnp.arange(batch)[:, None, None]
    steps = jnp.arange(tgt_len)[None, :, None]
    zeros = jnp.zeros((batch, tgt_len, vocab_size), jnp.float32)
    return zeros.at[rows, steps, source_ids[:, None, :]].add(weights.astype(jnp.float32))


def pointer_log_probs(logits: Array, gate: Array, weights: Array, source_ids: Array) -> Array:
    """``log(p_gen P_vocab + (1 - p_gen) P_copy)`` ``[batch, tgt_len, vocab]`` float32.

    ``logits [batch, tgt_len, vocab]`` of the generator, ``gate [batch, tgt_len, 1]`` the logit of
    ``p_gen``, ``weights [batch, tgt_len, src_len]`` the copy attention, ``source_ids [batch,
    src_len]``. Computed in log space: a probability floor would cut the gradient of a target whose
    probability fell below it, and ``P_copy`` is 0 for most tokens. Log-probabilities are valid
    logits (``log_softmax`` leaves them unchanged), so the same cross-entropy trains both.
    """
    logits, gate = logits.astype(jnp.float32), gate.astype(jnp.float32)
    copy_probs = copy_distribution(weights, source_ids, logits.shape[-1])
    log_generate = jax.nn.log_sigmoid(gate) + jax.nn.log_softmax(logits, axis=-1)
    copyable = copy_probs > 0
    log_copy = jnp.where(copyable, jnp.log(jnp.where(copyable, copy_probs, 1.0)), -jnp.inf)
    return jnp.logaddexp(log_generate, jax.nn.log_sigmoid(-gate) + log_copy)
