"""Greedy and beam search on a hand-written Markov model (no network): exact expectations."""

import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models.decoding import beam_search, gather_beams, greedy_search, length_penalty

BOS, EOS = 1, 2
# Next-token probabilities given the previous token (vocab 5: pad, BOS, EOS, a=3, b=4).
# Greedy takes "a" (0.6), then must pick among flat options; "b" (0.4) leads to EOS with 1.0.
TABLE = np.full((5, 5), 1e-6)
TABLE[BOS, 3], TABLE[BOS, 4] = 0.6, 0.4
TABLE[3, 3], TABLE[3, EOS], TABLE[3, 4] = 0.34, 0.33, 0.33
TABLE[4, EOS] = 1.0
TABLE[EOS, EOS] = 1.0
LOG_TABLE = jnp.log(jnp.asarray(TABLE / TABLE.sum(1, keepdims=True), jnp.float32))


def step_fn(tokens, cache):
    # The cache counts steps per sequence: a beam reorder must carry it along.
    return LOG_TABLE[tokens], {"steps": cache["steps"] + 1, "index": cache["index"] + 1}


def cache_for(n):
    return {"steps": jnp.zeros((n,), jnp.int32), "index": jnp.array(0, jnp.int32)}


def test_greedy_follows_the_locally_best_token():
    tokens, log_prob = greedy_search(step_fn, cache_for(1), 1, max_length=5, bos_id=BOS, eos_id=EOS)
    np.testing.assert_array_equal(tokens[0], [3, 3, 3, 3, 3])
    np.testing.assert_allclose(log_prob[0], np.log(0.6) + 4 * np.log(0.34), rtol=1e-4)


def test_beam_search_finds_the_better_sequence():
    sequences, scores = beam_search(
        step_fn, cache_for(2), 1, beam_size=2, max_length=5, bos_id=BOS, eos_id=EOS, alpha=0.0
    )
    np.testing.assert_array_equal(sequences[0, 0], [4, EOS, 0, 0, 0])
    np.testing.assert_allclose(scores[0, 0], np.log(0.4), rtol=1e-4)
    # "a EOS" (0.198) fell out of the beam at step 2 behind "b EOS" (0.4) and "a a" (0.204).
    np.testing.assert_array_equal(sequences[0, 1], [3, 3, EOS, 0, 0])
    np.testing.assert_allclose(scores[0, 1], np.log(0.6 * 0.34 * 0.33), rtol=1e-4)


def test_length_penalty_prefers_longer_sequences_as_alpha_grows():
    np.testing.assert_allclose(length_penalty(1, 0.0), 1.0)
    np.testing.assert_allclose(length_penalty(7, 1.0), 2.0)
    _, plain = beam_search(step_fn, cache_for(2), 1, beam_size=2, max_length=5, bos_id=BOS, eos_id=EOS, alpha=0.0)
    _, penalised = beam_search(step_fn, cache_for(2), 1, beam_size=2, max_length=5, bos_id=BOS, eos_id=EOS, alpha=1.0)
    np.testing.assert_allclose(penalised[0, 0], plain[0, 0] / length_penalty(2, 1.0), rtol=1e-5)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_unfinished_hypotheses_are_returned_when_nothing_ends(beam_size):
    never = -1
    sequences, scores = beam_search(
        step_fn, cache_for(beam_size), 1, beam_size=beam_size, max_length=4, bos_id=BOS, eos_id=never,
        alpha=0.0,
    )
    assert np.isfinite(np.asarray(scores)).all() and (np.asarray(scores) > -1e8).all()
    assert (sequences[0, 0] != 0).all()


def test_gather_beams_reorders_rows_and_keeps_scalars():
    tree = {"x": jnp.arange(6).reshape(6, 1), "i": jnp.array(4)}
    out = gather_beams(tree, jnp.array([[2, 2, 0], [1, 0, 0]]))
    np.testing.assert_array_equal(out["x"][:, 0], [2, 2, 0, 4, 3, 3])
    assert int(out["i"]) == 4
