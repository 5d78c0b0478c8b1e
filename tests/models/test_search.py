"""Greedy and beam search on a hand-written Markov model (no network): exact expectations."""

import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models.decoding import (
    beam_search, gather_beams, greedy_search, length_penalty, repeated_ngram_mask,
)

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


def test_fewer_finished_than_beams_are_topped_up_with_live_ones():
    # Step 2 keeps "b EOS" (0.4, finished) and "a a" (0.204, live): one finished hypothesis for two
    # slots, so the second slot is the live one, scored at its length (alpha 0: its log-prob).
    sequences, scores = beam_search(
        step_fn, cache_for(2), 1, beam_size=2, max_length=2, bos_id=BOS, eos_id=EOS, alpha=0.0
    )
    np.testing.assert_array_equal(sequences[0], [[4, EOS], [3, 3]])
    np.testing.assert_allclose(scores[0], [np.log(0.4), np.log(0.6 * 0.34)], rtol=1e-4)


def test_gather_beams_reorders_rows_and_keeps_scalars():
    tree = {"x": jnp.arange(6).reshape(6, 1), "i": jnp.array(4)}
    out = gather_beams(tree, jnp.array([[2, 2, 0], [1, 0, 0]]))
    np.testing.assert_array_equal(out["x"][:, 0], [2, 2, 0, 4, 3, 3])
    assert int(out["i"]) == 4


# --- constraints: n-gram blocking and minimum length --------------------------------------------

A, B, C = 3, 4, 5
# A model stuck in a cycle (vocab 6: pad, BOS, EOS, a, b, c): BOS -> a -> b -> c -> a ..., each
# step's favourite with 0.7, so unconstrained search provably says "a b c a b c ..."; pad and EOS
# are next to impossible, so even short hypotheses do not win the beam.
CYCLE = np.full((6, 6), 0.3 / 3)
CYCLE[:, [0, EOS]] = 1e-6
for prev, nxt in ((BOS, A), (A, B), (B, C), (C, A), (EOS, EOS)):
    CYCLE[prev, nxt] = 0.7
LOG_CYCLE = jnp.log(jnp.asarray(CYCLE / CYCLE.sum(1, keepdims=True), jnp.float32))


def cycle_step(tokens, cache):
    return LOG_CYCLE[tokens], cache


def ngrams(seq, n, eos=EOS):
    seq = list(np.asarray(seq))
    seq = seq[: seq.index(eos)] if eos in seq else seq
    return [tuple(seq[j : j + n]) for j in range(len(seq) - n + 1)]


def has_repeat(seq, n):
    grams = ngrams(seq, n)
    return len(set(grams)) < len(grams)


def brute_force_mask(seq, length, vocab, n):
    prefix = list(seq[:length])
    blocked = np.zeros(vocab, bool)
    if n == 0 or length < n - 1:
        return blocked
    tail = prefix[length - n + 1 :] if n > 1 else []
    for j in range(length - n + 1):
        if prefix[j : j + n - 1] == tail:
            blocked[prefix[j + n - 1]] = True
    return blocked


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_repeated_ngram_mask_matches_brute_force(n):
    rng = np.random.default_rng(n)
    seqs = rng.integers(3, 6, size=(16, 10))  # 3 symbols: plenty of repeats
    for length in range(11):
        mask = np.asarray(repeated_ngram_mask(jnp.asarray(seqs), jnp.array(length), 7, n))
        expected = np.stack([brute_force_mask(row, length, 7, n) for row in seqs])
        np.testing.assert_array_equal(mask, expected, err_msg=f"n={n}, length={length}")


def test_greedy_trigram_blocking_breaks_the_cycle():
    search = lambda n: greedy_search(  # noqa: E731
        cycle_step, None, 2, max_length=12, bos_id=BOS, eos_id=-1, no_repeat_ngram_size=n
    )[0]
    plain, blocked = np.asarray(search(0)), np.asarray(search(3))
    np.testing.assert_array_equal(plain[0], [A, B, C] * 4)
    assert has_repeat(plain[0], 3)
    for row in blocked:
        assert not has_repeat(row, 3), row
    # Blocking changes only the tokens it must: "a b c a b" is allowed, then "c" is not.
    np.testing.assert_array_equal(blocked[0, :5], [A, B, C, A, B])
    assert blocked[0, 5] != C


@pytest.mark.parametrize("beam_size", [1, 3])
def test_beam_trigram_blocking_leaves_no_repeated_trigram_in_any_beam(beam_size):
    search = lambda n: beam_search(  # noqa: E731
        cycle_step, None, 2, beam_size=beam_size, max_length=12, bos_id=BOS, eos_id=EOS, alpha=0.0,
        no_repeat_ngram_size=n,
    )
    plain, _ = search(0)
    assert has_repeat(plain[0, 0], 3)
    sequences, scores = search(3)
    for seq in np.asarray(sequences).reshape(-1, 12):
        assert not has_repeat(seq, 3), seq
    assert (np.asarray(scores) > -1e8).all()  # every beam is a real hypothesis
    if beam_size == 1:
        greedy, _ = greedy_search(cycle_step, None, 2, max_length=12, bos_id=BOS, eos_id=EOS, no_repeat_ngram_size=3)
        np.testing.assert_array_equal(sequences[:, 0], greedy)


# From every token EOS is the favourite (0.5); otherwise the cycle.
EAGER = CYCLE.copy()
EAGER[:, EOS] = EAGER.sum(1)  # half of each row once normalised
EAGER[EOS] = CYCLE[EOS]
LOG_EAGER = jnp.log(jnp.asarray(EAGER / EAGER.sum(1, keepdims=True), jnp.float32))


def eager_step(tokens, cache):
    return LOG_EAGER[tokens], cache


def first_eos(seq):
    seq = list(np.asarray(seq))
    return seq.index(EOS) if EOS in seq else len(seq)


@pytest.mark.parametrize("min_length", [1, 4])
def test_min_length_holds_eos_back(min_length):
    greedy = lambda m: greedy_search(  # noqa: E731
        eager_step, None, 2, max_length=8, bos_id=BOS, eos_id=EOS, min_length=m
    )[0]
    beam = lambda m: beam_search(  # noqa: E731
        eager_step, None, 2, beam_size=3, max_length=8, bos_id=BOS, eos_id=EOS, alpha=0.0, min_length=m
    )[0]
    assert first_eos(greedy(0)[0]) == 0 and first_eos(beam(0)[0, 0]) == 0
    # EOS comes as soon as it is allowed, and padding follows it.
    tokens = np.asarray(greedy(min_length))
    assert [first_eos(row) for row in tokens] == [min_length] * 2
    assert (tokens[:, min_length + 1 :] == 0).all()
    sequences = np.asarray(beam(min_length))
    assert min(first_eos(seq) for seq in sequences.reshape(-1, 8)) == min_length


@pytest.mark.parametrize("bad", [dict(no_repeat_ngram_size=-1), dict(min_length=2.5), dict(min_length=True)])
def test_constraints_reject_bad_values(bad):
    (name, value), = bad.items()
    with pytest.raises(ValueError, match=rf"{name}={value!r} is not allowed; expected 0 \(off\) or a positive integer"):
        greedy_search(cycle_step, None, 1, max_length=4, bos_id=BOS, eos_id=EOS, **bad)
    with pytest.raises(ValueError, match=rf"{name}={value!r}"):
        beam_search(cycle_step, None, 1, beam_size=2, max_length=4, bos_id=BOS, eos_id=EOS, **bad)
