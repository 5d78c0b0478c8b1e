"""Autoregressive decoding for the seq2seq models: greedy search and beam search, jitted.

Both run a ``lax.while_loop`` over ``step_fn(tokens [n], cache) -> (log_probs [n, vocab], cache)``,
which feeds one token per sequence through the model's ``decode=True`` clone; the cache is the
Transformer's key/value cache or the RNN decoder's carry, so each step costs one position.

Outputs are ``[batch, max_length]`` token ids without the BOS, ending with EOS (when it was
produced) and padded with ``pad_id`` after it.

Beam search keeps ``beam_size`` hypotheses. Each step the best ``beam_size`` extensions of the live
hypotheses are taken; those ending in EOS move to the finished pool, scored with the GNMT length
penalty ``log_prob / ((5 + length) / 6) ** alpha`` (Wu et al. 2016; ``alpha=0`` means none), the
others stay live. It stops when no live hypothesis remains or none can beat the worst of
``beam_size`` finished ones, or at ``max_length``. With ``beam_size=1`` this is exactly greedy search.

Both searches take two constraints on what a hypothesis may say next, applied to the step's
log-probs before the choice (both 0 = off, the default; the names are Hugging Face's):

- ``no_repeat_ngram_size=n``: a token that would complete an n-gram the hypothesis already holds
  gets log-prob ``NEG_INF`` (trigram blocking, ``n=3``, as Paulus et al. 2018 decode summaries).
- ``min_length=m``: EOS gets ``NEG_INF`` while fewer than ``m`` tokens precede it, so an output
  has at least ``m`` tokens before its EOS.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Cache = Any
StepFn = Callable[[Array, Cache], tuple[Array, Cache]]

NEG_INF = -1.0e9  # finite "minus infinity": sums and divisions of it never make NaN


def length_penalty(length: Array, alpha: float) -> Array:
    """GNMT length normaliser ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + jnp.asarray(length, jnp.float32)) / 6.0) ** alpha


def _check_constraints(no_repeat_ngram_size: int, min_length: int) -> None:
    for name, value in (("no_repeat_ngram_size", no_repeat_ngram_size), ("min_length", min_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}={value!r} is not allowed; expected 0 (off) or a positive integer")


def repeated_ngram_mask(seqs: Array, length: Array, vocab_size: int, n: int) -> Array:
    """Which next tokens would repeat an n-gram: ``bool [rows, vocab_size]`` for ``seqs [rows, T]``.

    ``seqs[:, :length]`` are the tokens generated so far (``length`` may be traced; later
    positions are ignored). Token ``v`` is blocked for a row when some earlier n-gram
    ``seqs[j : j + n]`` (``j + n <= length``) starts with the row's last ``n - 1`` tokens and ends
    in ``v``. Shapes are fixed, so it runs inside the search's ``while_loop``.
    """
    rows, t = seqs.shape
    if n <= 0 or t < n:
        return jnp.zeros((rows, vocab_size), bool)
    # Every length-n window of the buffer, [rows, t - n + 1, n]; those not yet generated are masked.
    windows = jnp.stack([seqs[:, k : k + t - n + 1] for k in range(n)], axis=-1)
    complete = jnp.arange(t - n + 1) <= length - n
    # The last n - 1 generated tokens; their indices are clipped when length < n - 1, which
    # ``complete`` already rules out.
    last = jnp.take(seqs, jnp.clip(length - (n - 1) + jnp.arange(n - 1), 0, t - 1), axis=1)
    match = jnp.all(windows[:, :, : n - 1] == last[:, None, :], axis=-1) & complete
    # Unmatched windows point past the vocabulary and are dropped: every written value is True,
    # so duplicate indices cannot conflict.
    followers = jnp.where(match, windows[:, :, n - 1], vocab_size)
    return jnp.zeros((rows, vocab_size), bool).at[jnp.arange(rows)[:, None], followers].set(True, mode="drop")


def constrain(
    log_probs: Array, seqs: Array, length: Array, *, eos_id: int, no_repeat_ngram_size: int = 0,
    min_length: int = 0,
) -> Array:
    """``log_probs [rows, vocab]`` with the tokens the constraints forbid set to ``NEG_INF``.

    ``seqs [rows, T]`` holds each row's ``length`` generated tokens (BOS excluded).
    """
    if no_repeat_ngram_size:
        blocked = repeated_ngram_mask(seqs, length, log_probs.shape[-1], no_repeat_ngram_size)
        log_probs = jnp.where(blocked, NEG_INF, log_probs)
    if min_length:
        log_probs = log_probs.at[:, eos_id].set(jnp.where(length < min_length, NEG_INF, log_probs[:, eos_id]))
    return log_probs


# --- search over a step function ---------------------------------------------------------------


def greedy_search(
    step_fn: StepFn, cache: Cache, batch_size: int, *, max_length: int, bos_id: int, eos_id: int,
    pad_id: int = 0, no_repeat_ngram_size: int = 0, min_length: int = 0,
) -> tuple[Array, Array]:
    """Most likely allowed token at every step; returns ``tokens [batch, max_length]`` and their
    log-prob ``[batch]``."""
    _check_constraints(no_repeat_ngram_size, min_length)
    limits = dict(eos_id=eos_id, no_repeat_ngram_size=no_repeat_ngram_size, min_length=min_length)

    def cond(state):
        i, _, _, done, _, _ = state
        return (i < max_length) & ~jnp.all(done)

    def body(state):
        i, current, tokens, done, total, cache = state
        log_probs, cache = step_fn(current, cache)
        log_probs = constrain(log_probs, tokens, i, **limits)
        nxt = jnp.argmax(log_probs, axis=-1).astype(jnp.int32)
        total = total + jnp.where(done, 0.0, jnp.take_along_axis(log_probs, nxt[:, None], -1)[:, 0])
        nxt = jnp.where(done, pad_id, nxt)
        tokens = tokens.at[:, i].set(nxt)
        return i + 1, nxt, tokens, done | (nxt == eos_id), total, cache

    state = (
        jnp.array(0, jnp.int32),
        jnp.full((batch_size,), bos_id, jnp.int32),
        jnp.full((batch_size, max_length), pad_id, jnp.int32),
        jnp.zeros((batch_size,), bool),
        jnp.zeros((batch_size,), jnp.float32),
        cache,
    )
    _, _, tokens, _, total, _ = lax.while_loop(cond, body, state)
    return tokens, total


def gather_beams(tree: Any, parents: Array) -> Any:
    """Reorders every ``[batch * beam, ...]`` leaf by ``parents [batch, beam]``; scalars stay."""
    batch, beam = parents.shape
    flat = (jnp.arange(batch)[:, None] * beam + parents).reshape(-1)
    # Scalars (cache indices) are shared by all beams: every beam is at the same step.
    return jax.tree.map(lambda x: x if x.ndim == 0 else x[flat], tree)


def _take(x: Array, idx: Array) -> Array:
    """``x [batch, n, ...]`` at ``idx [batch, k]`` along axis 1."""
    return jax.vmap(lambda row, i: row[i])(x, idx)


def beam_search(
    step_fn: StepFn, cache: Cache, batch_size: int, *, beam_size: int, max_length: int, bos_id: int,
    eos_id: int, alpha: float = 0.6, pad_id: int = 0, no_repeat_ngram_size: int = 0, min_length: int = 0,
) -> tuple[Array, Array]:
    """Beam search; ``cache`` is for ``batch * beam`` sequences (example-major).

    Returns ``sequences [batch, beam, max_length]`` and ``scores [batch, beam]`` (length-normalised
    log-probs), best first. Finished hypotheses come first; when fewer than ``beam_size`` finished, the
    best live (unfinished) hypotheses fill the remaining slots, scored at their length.
    """
    _check_constraints(no_repeat_ngram_size, min_length)
    limits = dict(eos_id=eos_id, no_repeat_ngram_size=no_repeat_ngram_size, min_length=min_length)
    b, k, t = batch_size, beam_size, max_length

    def cond(state):
        i, live_seqs, live_logp, _, _, fin_scores, fin_flags, _ = state
        any_live = jnp.any(live_logp > NEG_INF / 2, axis=-1)
        # A live hypothesis can at best keep its log-prob and reach the longest length.
        best_possible = live_logp[:, 0] / length_penalty(t, alpha)
        beaten = jnp.all(fin_flags, axis=-1) & (fin_scores[:, -1] >= best_possible)
        return (i < t) & jnp.any(any_live & ~beaten)

    def body(state):
        i, live_seqs, live_logp, live_tokens, fin_seqs, fin_scores, fin_flags, cache = state
        log_probs, cache = step_fn(live_tokens.reshape(b * k), cache)
        log_probs = constrain(log_probs, live_seqs.reshape(b * k, t), i, **limits)
        vocab = log_probs.shape[-1]
        candidates = (live_logp[:, :, None] + log_probs.reshape(b, k, vocab)).reshape(b, k * vocab)
        top_logp, top_idx = lax.top_k(candidates, k)  # [b, k]
        parents, tokens = top_idx // vocab, (top_idx % vocab).astype(jnp.int32)
        seqs = _take(live_seqs, parents).at[:, :, i].set(tokens)
        valid = top_logp > NEG_INF / 2
        ended = (tokens == eos_id) & valid

        live_logp = jnp.where(ended, NEG_INF, top_logp)
        cache = gather_beams(cache, parents)

        new_scores = jnp.where(ended, top_logp / length_penalty(i + 1, alpha), NEG_INF)
        pool_scores = jnp.concatenate([fin_scores, new_scores], axis=1)
        pool_seqs = jnp.concatenate([fin_seqs, seqs], axis=1)
        pool_flags = jnp.concatenate([fin_flags, ended], axis=1)
        fin_scores, keep = lax.top_k(pool_scores, k)
        fin_seqs, fin_flags = _take(pool_seqs, keep), _take(pool_flags, keep)

        # Keep live hypotheses sorted, best first (the stopping test reads the first).
        live_logp, order = lax.top_k(live_logp, k)
        live_seqs, tokens = _take(seqs, order), _take(tokens, order)
        cache = gather_beams(cache, order)
        return i + 1, live_seqs, live_logp, tokens, fin_seqs, fin_scores, fin_flags, cache

    state = (
        jnp.array(0, jnp.int32),
        jnp.full((b, k, t), pad_id, jnp.int32),
        jnp.tile(jnp.array([0.0] + [NEG_INF] * (k - 1), jnp.float32), (b, 1)),  # one start hypothesis
        jnp.full((b, k), bos_id, jnp.int32),
        jnp.full((b, k, t), pad_id, jnp.int32),
        jnp.full((b, k), NEG_INF, jnp.float32),
        jnp.zeros((b, k), bool),
        cache,
    )
    i, live_seqs, live_logp, _, fin_seqs, fin_scores, fin_flags, _ = lax.while_loop(cond, body, state)
    # The finished hypotheses (sorted, flagged ones first), then the best live ones fill the slots
    # that fewer than `k` finished hypotheses leave empty.
    num_finished = jnp.sum(fin_flags, axis=-1, keepdims=True)  # [b, 1]
    slot = jnp.arange(k)[None, :]
    from_live = slot >= num_finished
    live_slot = jnp.clip(slot - num_finished, 0, k - 1)
    live_scores = live_logp / length_penalty(i, alpha)
    sequences = jnp.where(from_live[..., None], _take(live_seqs, live_slot), fin_seqs)
    scores = jnp.where(from_live, _take(live_scores, live_slot), fin_scores)
    return sequences, scores


# --- seq2seq models -------------------------------------------------------------------------


def _check_length(model: nn.Module, max_length: int) -> None:
    if max_length <= 0 or max_length > model.config.max_length:
        raise ValueError(
            f"max_length={max_length} is not allowed; expected 1 <= max_length <= "
            f"config.max_length={model.config.max_length}"
        )


def init_cache(model: nn.Module, encoded: Any, batch_size: int, max_length: int) -> Cache:
    """A zero cache for ``batch_size`` sequences of up to ``max_length`` tokens.

    Only shapes are traced (``eval_shape``): every cache starts at zero, and the RNN decoder takes
    its initial carry from ``encoded`` at step 0.
    """
    decoder = model.clone(decode=True)
    shapes = jax.eval_shape(
        lambda: decoder.init(
            jax.random.key(0), encoded, jnp.zeros((batch_size, max_length), jnp.int32),
            method=decoder.decode_logits,
        )["cache"]
    )
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def make_step_fn(model: nn.Module, params: Any, encoded: Any) -> StepFn:
    """``step_fn(tokens [n], cache) -> (log_probs [n, vocab], cache)`` for ``model``'s decoder."""
    decoder = model.clone(decode=True)

    def step_fn(tokens: Array, cache: Cache) -> tuple[Array, Cache]:
        log_probs, state = decoder.apply(
            {"params": params, "cache": cache}, encoded, tokens, method=decoder.decode_step,
            mutable=["cache"],
        )
        return log_probs, state["cache"]

    return step_fn


@functools.partial(
    jax.jit, static_argnames=("model", "max_length", "bos_id", "eos_id", "no_repeat_ngram_size", "min_length")
)
def greedy_decode(
    model: nn.Module, params: Any, inputs: Array, *, max_length: int, bos_id: int = 1, eos_id: int = 2,
    no_repeat_ngram_size: int = 0, min_length: int = 0,
) -> tuple[Array, Array]:
    """Greedy decoding of ``inputs [batch, src_len]``: ``tokens [batch, max_length]``, log-prob ``[batch]``.

    ``no_repeat_ngram_size`` and ``min_length`` constrain the output (module docstring; 0 = off).
    """
    _check_length(model, max_length)
    encoded = model.apply({"params": params}, inputs, method=model.encode)
    batch = inputs.shape[0]
    return greedy_search(
        make_step_fn(model, params, encoded), init_cache(model, encoded, batch, max_length), batch,
        max_length=max_length, bos_id=bos_id, eos_id=eos_id, pad_id=model.config.pad_id,
        no_repeat_ngram_size=no_repeat_ngram_size, min_length=min_length,
    )


@functools.partial(
    jax.jit,
    static_argnames=(
        "model", "beam_size", "max_length", "alpha", "bos_id", "eos_id", "no_repeat_ngram_size", "min_length",
    ),
)
def beam_decode(
    model: nn.Module, params: Any, inputs: Array, *, beam_size: int, max_length: int,
    alpha: float = 0.6, bos_id: int = 1, eos_id: int = 2, no_repeat_ngram_size: int = 0, min_length: int = 0,
) -> tuple[Array, Array]:
    """Beam search over ``inputs [batch, src_len]``: ``sequences [batch, beam, max_length]``,
    ``scores [batch, beam]``, best first.

    ``no_repeat_ngram_size`` and ``min_length`` constrain the output (module docstring; 0 = off).
    """
    _check_length(model, max_length)
    if beam_size <= 0:
        raise ValueError(f"beam_size={beam_size} is not allowed; expected a positive integer")
    encoded = model.apply({"params": params}, inputs, method=model.encode)
    # Example-major copies: rows b * beam_size ... (b + 1) * beam_size - 1 belong to example b.
    encoded = jax.tree.map(lambda x: jnp.repeat(x, beam_size, axis=0), encoded)
    batch = inputs.shape[0]
    return beam_search(
        make_step_fn(model, params, encoded),
        init_cache(model, encoded, batch * beam_size, max_length),
        batch, beam_size=beam_size, max_length=max_length, bos_id=bos_id, eos_id=eos_id,
        alpha=alpha, pad_id=model.config.pad_id, no_repeat_ngram_size=no_repeat_ngram_size,
        min_length=min_length,
    )
