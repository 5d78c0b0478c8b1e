"""Shared by the seq2seq tests: a model's log-probs computed one cached decoding step at a time."""

import jax
import jax.numpy as jnp

from attnjax.models.decoding import init_cache, make_step_fn


def teacher_forced_steps(model, params, source, targets_in):
    """``[batch, target_len, vocab]`` log-probs of ``targets_in`` fed one token per step through the
    model's decoding cache (what greedy and beam search run), to compare with the full forward pass."""
    encoded = model.apply({"params": params}, source, method=model.encode)
    step_fn = make_step_fn(model, params, encoded)
    cache = init_cache(model, encoded, source.shape[0], targets_in.shape[1])

    def step(cache, tokens):
        log_probs, cache = step_fn(tokens, cache)
        return cache, log_probs

    _, log_probs = jax.lax.scan(step, cache, targets_in.T)
    return jnp.swapaxes(log_probs, 0, 1)
