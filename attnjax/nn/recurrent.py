"""Recurrent encoders and an attention decoder: the RNN encoder-decoder baseline of summarization.

- :class:`RNNEncoder`: a (bi)directional LSTM or GRU over ``[batch, length, features]`` that respects
  padding (``seq_lengths``), returning ``[batch, length, directions * hidden]`` and final carries.
- :class:`AttentionDecoderCell`: one decoder step in the style of Luong et al. (2015): the RNN reads
  the previous token and the previous attentional state ("input feeding"), its output attends the
  encoder states with any registered score (``additive`` = Bahdanau, ``dot``/``general`` = Luong),
  and ``tanh(W [h; context])`` is the new attentional state. ``score=None`` drops the attention:
  the plain encoder-decoder that only passes the final encoder state. With ``coverage`` the carry
  also holds the coverage, the sum of the earlier steps' attention (See et al. 2017), which the
  score reads; each step returns its coverage loss ``sum_i min(a_i, c_i)``.
- :class:`RNNDecoder`: the cell scanned over time; with ``decode=True`` its carry lives in the
  ``cache`` collection, so it decodes one token per call like the Transformer decoder.

``dtype`` (e.g. ``jnp.bfloat16``) is the compute dtype of every module here, recurrent carry
included; parameters stay float32. ``None`` infers it from the inputs and (float32) parameters.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax import ops
from attnjax.nn.attention import Attention
from attnjax.ops import Score
from attnjax.registry import Registry

Array = jax.Array

CELLS: Registry[type[nn.RNNCellBase]] = Registry("cell")
CELLS.register("lstm", nn.OptimizedLSTMCell)
CELLS.register("gru", nn.GRUCell)


def _zero_carry(cell: nn.RNNCellBase, x: Array, dtype: Any) -> Any:
    """``cell``'s zero carry for ``x [batch, length, features]``, in ``dtype`` (None: the cell's own).

    A cell builds its carry in its param dtype (float32); a float32 carry would promote every
    bfloat16 step back to float32, so the recurrence is started in the compute dtype instead.
    """
    carry = cell.initialize_carry(jax.random.key(0), x[:, 0].shape)  # zeros: the key is unused
    return carry if dtype is None else jax.tree.map(lambda c: c.astype(dtype), carry)


def get_cell(name: str) -> type[nn.RNNCellBase]:
    """The recurrent cell class named ``name``; ValueError listing the known ones otherwise."""
    return CELLS.get(name)


class RNNEncoder(nn.Module):
    """A (bi)directional recurrent encoder.

    ``__call__(x [batch, length, features], mask [batch, length])`` returns ``outputs
    [batch, length, directions * hidden_size]`` (zeros at padded positions) and the final carries, a
    tuple with one carry per direction. Padding is skipped: the backward direction starts at each
    sequence's last real token.
    """

    cell: str = "lstm"
    hidden_size: int = 32
    bidirectional: bool = True
    dtype: Any = None

    @nn.compact
    def __call__(self, x: Array, mask: Array) -> tuple[Array, tuple[Any, ...]]:
        cell_cls = get_cell(self.cell)
        if self.dtype is not None:
            x = x.astype(self.dtype)
        lengths = jnp.sum(mask.astype(jnp.int32), axis=-1)
        forward_cell = cell_cls(self.hidden_size, dtype=self.dtype, name="forward_cell")
        forward = nn.RNN(forward_cell, name="forward")
        carry, outputs = forward(
            x, initial_carry=_zero_carry(forward_cell, x, self.dtype), seq_lengths=lengths,
            return_carry=True,
        )
        carries = (carry,)
        if self.bidirectional:
            backward_cell = cell_cls(self.hidden_size, dtype=self.dtype, name="backward_cell")
            backward = nn.RNN(backward_cell, reverse=True, keep_order=True, name="backward")
            back_carry, back_outputs = backward(
                x, initial_carry=_zero_carry(backward_cell, x, self.dtype), seq_lengths=lengths,
                return_carry=True,
            )
            outputs = jnp.concatenate([outputs, back_outputs], axis=-1)
            carries = (carry, back_carry)
        return outputs * mask[..., None].astype(outputs.dtype), carries


class AttentionDecoderCell(nn.Module):
    """One decoder step; carry ``(rnn_carry, attentional_state [batch, hidden])``, plus ``coverage
    [batch, src_len]`` (float32) with ``coverage``.

    ``__call__(carry, x [batch, features], memory, memory_mask [batch, src_len])`` returns
    ``(carry, (state [batch, hidden], context [batch, hidden], weights [batch, src_len]))``; the
    weights are averaged over heads (zeros without attention), or, with ``mix_heads`` and several
    heads, mixed by learned per-step shares ``softmax(W [h; context])`` over heads: what a
    pointer-generator copies with (below). ``memory`` is the encoder states'
    keys and values, each ``[batch, src_len, heads, hidden // heads]``, projected once by
    :class:`RNNDecoder` (None without attention).
    With ``coverage`` the outputs also hold the step's coverage loss ``[batch]``.
    """

    cell: str = "lstm"
    hidden_size: int = 32
    score: Optional[Union[str, Score]] = "additive"
    num_heads: int = 1
    dtype: Any = None
    coverage: bool = False
    mix_heads: bool = False

    @nn.compact
    def __call__(self, carry, x: Array, memory: Array, memory_mask: Array):
        rnn_carry, feed, *coverage = carry  # coverage: [] or [coverage [batch, src_len]]
        rnn_carry, h = get_cell(self.cell)(self.hidden_size, dtype=self.dtype, name="rnn")(
            rnn_carry, jnp.concatenate([x, feed], axis=-1)
        )
        if self.score is None:
            if self.coverage:
                raise ValueError("coverage sums attention weights: it needs a score, got score=None")
            context = jnp.zeros_like(h)
            weights = jnp.zeros(memory_mask.shape, jnp.float32)
            state = h
            return (rnn_carry, state), (state, context, weights)
        attend = Attention(
            num_heads=self.num_heads, score=self.score, qkv_features=self.hidden_size,
            out_features=self.hidden_size, sow_weights=False, coverage=self.coverage, dtype=self.dtype,
            name="attention",
        )
        extra_carry, extra_out = (), ()
        if self.coverage:
            context, covered = attend(
                h[:, None], mask=ops.key_padding_mask(memory_mask), coverage=coverage[0], key_value=memory
            )
            weights = covered.weights
            extra_carry = (covered.final_coverage,)
            extra_out = (ops.coverage_loss(covered.weights, covered.coverage)[:, 0],)
        else:
            context, weights = attend(
                h[:, None], mask=ops.key_padding_mask(memory_mask), return_weights=True, key_value=memory
            )
        context, weights = context[:, 0], self._combine_heads(weights[:, :, 0], h, context[:, 0])
        combine = nn.Dense(self.hidden_size, dtype=self.dtype, name="combine")
        state = jnp.tanh(combine(jnp.concatenate([h, context], axis=-1)))
        return (rnn_carry, state, *extra_carry), (state, context, weights, *extra_out)


    def _combine_heads(self, weights: Array, h: Array, context: Array) -> Array:
        """``weights [batch, heads, src_len]`` -> ``[batch, src_len]``.

        Copying with the heads' mean, as a single-head pointer copies with its one head, blurs the
        copy distribution as soon as the heads specialise (one follows the position, another the
        content): the mean of a peaked and a flat head is half flat. With ``mix_heads`` a learned
        per-step share of each head picks the heads to copy with (Gehrmann et al. 2018 copy with one
        fixed head of a Transformer). Its kernel starts at zero, so training starts from the mean.
        """
        if not self.mix_heads or self.num_heads == 1:
            return jnp.mean(weights, axis=1)
        shares = nn.Dense(self.num_heads, kernel_init=nn.initializers.zeros, dtype=self.dtype, name="copy_heads")(
            jnp.concatenate([h, context], axis=-1)
        )
        shares = jax.nn.softmax(shares.astype(jnp.float32), axis=-1)
        return jnp.einsum("bh,bhs->bs", shares, weights.astype(jnp.float32))


class RNNDecoder(nn.Module):
    """:class:`AttentionDecoderCell` over time.

    ``__call__(y [batch, tgt_len, features], initial_rnn_carry, memory, memory_mask)`` returns
    ``(states, contexts)`` ``[batch, tgt_len, hidden]`` and ``weights [batch, tgt_len, src_len]``,
    which are also sown as ``intermediates/attention_weights`` (``[batch, 1, tgt_len, src_len]``);
    with ``coverage`` also the coverage loss of each step, ``[batch, tgt_len]`` (the coverage is
    part of the carry, so of the cache).
    With ``decode=True`` (after ``init``), ``y`` holds one token and the carry is cached; the first
    call starts from ``initial_rnn_carry``. ``mix_heads``: the returned (and sown) weights are
    the learned mixture of heads of :class:`AttentionDecoderCell`, not their mean.
    """

    cell: str = "lstm"
    hidden_size: int = 32
    score: Optional[Union[str, Score]] = "additive"
    num_heads: int = 1
    decode: bool = False
    dtype: Any = None
    coverage: bool = False
    mix_heads: bool = False

    def setup(self) -> None:
        self.step = nn.scan(
            AttentionDecoderCell,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=(1, nn.broadcast, nn.broadcast),
            out_axes=1,
        )(self.cell, self.hidden_size, self.score, self.num_heads, self.dtype, self.coverage, self.mix_heads)
        if self.score is not None:
            if self.hidden_size % self.num_heads:
                raise ValueError(f"num_heads={self.num_heads} must divide hidden_size={self.hidden_size}")
            project = functools.partial(
                nn.DenseGeneral, features=(self.num_heads, self.hidden_size // self.num_heads), axis=-1,
                dtype=self.dtype,
            )
            self.memory_key, self.memory_value = project(), project()

    def project_memory(self, memory: Array) -> Optional[tuple[Array, Array]]:
        """The attention's keys and values of ``memory``, each ``[batch, src_len, heads, hidden // heads]``
        (``None`` without attention).

        Projected once per sequence, outside the time loop: projected inside each step, as a
        self-contained attention layer would, they cost ``2 * src_len * mem_features * hidden``
        multiply-adds per target token, most of a pointer-generator's training step. A decoder
        that runs one token per call (``decode=True``) takes them from its caller, who projects
        once per decoded sequence (:meth:`attnjax.models.Seq2SeqRNN.encode`).
        """
        if self.score is None:
            return None
        return self.memory_key(memory), self.memory_value(memory)

    @nn.compact  # for the decode cache's variables; the submodules are set up above
    def __call__(
        self, y: Array, initial_rnn_carry: Any, memory: Array, memory_mask: Array,
        memory_key_value: Optional[tuple[Array, Array]] = None,
    ):
        """``memory_key_value``: :meth:`project_memory` of ``memory``, when the caller has it."""
        if self.dtype is not None:
            # lax.scan needs the carry in the dtype the step returns; the cache then has it too.
            y = y.astype(self.dtype)
            initial_rnn_carry = jax.tree.map(lambda c: c.astype(self.dtype), initial_rnn_carry)
        carry = (initial_rnn_carry, jnp.zeros((y.shape[0], self.hidden_size), y.dtype))
        source = memory
        memory = self.project_memory(memory) if memory_key_value is None else memory_key_value
        step = self.step
        if self.coverage:
            carry = carry + (jnp.zeros(source.shape[:2], jnp.float32),)  # nothing attended yet
        if self.decode:
            is_initialized = self.has_variable("cache", "carry")
            cached = self.variable("cache", "carry", lambda: carry)
            position = self.variable("cache", "position", lambda: jnp.array(0, jnp.int32))
            if is_initialized:
                first = position.value == 0
                carry = jax.tree.map(lambda new, old: jnp.where(first, new, old), carry, cached.value)
                carry, outputs = step(carry, y, memory, memory_mask)
                cached.value = carry
                position.value = position.value + y.shape[1]
                return outputs
        _, outputs = step(carry, y, memory, memory_mask)
        if self.score is not None:
            self.sow("intermediates", "attention_weights", outputs[2][:, None])
        return outputs
