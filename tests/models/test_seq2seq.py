"""Seq2seq models: padding, causality, cached decoding, greedy and beam search."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models import beam_decode, build_model, example_inputs, greedy_decode
from attnjax.models.decoding import NEG_INF, init_cache, length_penalty, make_step_fn
from decoding_testing import teacher_forced_steps

BASE = dict(vocab_size=20, d_model=16, num_heads=2, num_layers=2, num_decoder_layers=2, mlp_dim=32,
            max_length=12, dropout_rate=0.0)
CONFIGS = {
    "transformer": dict(model="seq2seq_transformer", attention="additive", positional="sinusoidal"),
    "rnn-pointer": dict(model="seq2seq_rnn", attention="general", cell="lstm", pointer=True),
    "transformer-pointer-coverage": dict(model="seq2seq_transformer", attention="scaled_dot", pointer=True, coverage=True),
}
SOURCE = jnp.array([[5, 9, 3, 7, 0, 0], [8, 8, 2, 14, 11, 6]], jnp.int32)
TARGETS_IN = jnp.array([[1, 9, 7, 4, 3], [1, 8, 14, 11, 6]], jnp.int32)
BOS, MAX_LEN = 1, 6


# The Transformer pointer runs every test of this file in the slow suite; the default suite checks
# its distribution and its cached decoding (test_transformer_pointer_...).
SLOW_CONFIGS = {"transformer-pointer-coverage"}


@pytest.fixture(scope="module", params=[pytest.param(c, marks=(pytest.mark.slow,) if c in SLOW_CONFIGS else ()) for c in CONFIGS])
def built(request, fast):
    model = build_model({**BASE, **CONFIGS[request.param]})
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = fast(model.init, rng, *inputs)(rng, *inputs)["params"]
    apply = fast(lambda p, s, t: model.apply({"params": p}, s, t), params, SOURCE, TARGETS_IN)
    return model, params, apply


@pytest.mark.slow
def test_source_padding_is_ignored(built, fast):
    model, params, apply = built
    more = jnp.pad(SOURCE, ((0, 0), (0, 3)))
    padded = fast(lambda p, s, t: model.apply({"params": p}, s, t), params, more, TARGETS_IN)
    np.testing.assert_allclose(apply(params, SOURCE, TARGETS_IN), padded(params, more, TARGETS_IN), atol=1e-5)


def test_decoder_does_not_look_ahead(built):
    _, params, apply = built
    logits = apply(params, SOURCE, TARGETS_IN)
    changed = apply(params, SOURCE, TARGETS_IN.at[:, 3:].set(17))
    assert logits.shape == (2, 5, 20)
    np.testing.assert_allclose(logits[:, :3], changed[:, :3], atol=1e-5)
    assert not np.allclose(logits[:, 3:], changed[:, 3:])


def test_cached_decoding_equals_full_recomputation(built, fast):
    model, params, apply = built

    stepped = fast(functools.partial(teacher_forced_steps, model), params, SOURCE, TARGETS_IN)(params, SOURCE, TARGETS_IN)
    full = jax.nn.log_softmax(apply(params, SOURCE, TARGETS_IN), axis=-1)
    np.testing.assert_allclose(stepped, full, atol=1e-4)


def _decoders(model, params, eos_id, fast):
    greedy = fast(greedy_decode, model, params, SOURCE, max_length=MAX_LEN, bos_id=BOS, eos_id=eos_id)
    beam = lambda k, alpha: fast(  # noqa: E731
        beam_decode, model, params, SOURCE, beam_size=k, max_length=MAX_LEN, alpha=alpha, bos_id=BOS,
        eos_id=eos_id,
    )(params, SOURCE)
    return (lambda: greedy(params, SOURCE)), beam


def _eos_from_greedy(params, apply):
    """The (untrained) model's greedy second token for example 0: as EOS it ends decoding early.

    Found with two teacher-forced passes of the already compiled full model.
    """
    targets_in = TARGETS_IN.at[:, 1:].set(0)
    first = jnp.argmax(apply(params, SOURCE, targets_in)[:, 0], axis=-1)
    second = jnp.argmax(apply(params, SOURCE, targets_in.at[:, 1].set(first))[:, 1], axis=-1)
    return int(second[0])


def test_beam_size_one_equals_greedy(built, fast):
    model, params, apply = built
    eos = _eos_from_greedy(params, apply)
    greedy, beam = _decoders(model, params, eos, fast)
    tokens, log_prob = greedy()
    sequences, scores = beam(1, 0.0)
    assert (tokens[0] == eos).any()  # the EOS branch is exercised
    np.testing.assert_array_equal(sequences[:, 0], tokens)
    np.testing.assert_allclose(scores[:, 0], log_prob, rtol=1e-5)
    after_eos = jnp.cumsum(tokens == eos, axis=1) - (tokens == eos) > 0
    assert (tokens[after_eos] == 0).all()


def test_beam_scores_are_length_normalised_model_log_probs(built, fast):
    model, params, apply = built
    eos = _eos_from_greedy(params, apply)
    _, beam = _decoders(model, params, eos, fast)
    alpha, beam_size = 0.6, 3
    sequences, scores = beam(beam_size, alpha)
    assert sequences.shape == (2, beam_size, MAX_LEN)
    assert (np.diff(np.asarray(scores), axis=1) <= 1e-6).all()  # best first
    # Every slot holds a real hypothesis: where fewer than 3 finish, live ones fill the rest.
    assert (np.asarray(scores) > NEG_INF / 2).all()
    full = None
    for k in range(beam_size):
        seq = sequences[:, k]
        targets_in = jnp.concatenate([jnp.full((2, 1), BOS, jnp.int32), seq[:, :-1]], axis=1)
        full = full or fast(lambda p, s, t: model.apply({"params": p}, s, t), params, SOURCE, targets_in)
        log_probs = jax.nn.log_softmax(full(params, SOURCE, targets_in), axis=-1)
        token_lp = jnp.take_along_axis(log_probs, seq[..., None], axis=-1)[..., 0]
        ended = jnp.cumsum(seq == eos, axis=1) - (seq == eos)  # 0 up to and including the EOS
        length = jnp.where((seq == eos).any(1), jnp.argmax(seq == eos, axis=1) + 1, MAX_LEN)
        expected = jnp.sum(jnp.where(ended == 0, token_lp, 0.0), axis=1) / length_penalty(length, alpha)
        np.testing.assert_allclose(scores[:, k], expected, rtol=1e-4, atol=1e-4)


def test_decoding_rejects_lengths_past_max_length(built):
    model, params, _ = built
    with pytest.raises(ValueError, match="max_length=13"):
        greedy_decode(model, params, SOURCE, max_length=13)


def test_attention_weights_of_every_layer_read_back(built, fast):
    model, params, _ = built

    def weights(p, s, t):
        _, state = model.apply({"params": p}, s, t, mutable=["intermediates"])
        return state["intermediates"]

    inter = fast(weights, params, SOURCE, TARGETS_IN)(params, SOURCE, TARGETS_IN)
    flat = {
        "/".join(str(getattr(k, "key", k)) for k in path): w
        for path, w in jax.tree_util.tree_flatten_with_path(inter)[0]
    }
    shapes = {name: w.shape for name, w in flat.items()}
    if model.config.model == "seq2seq_transformer":
        assert len(flat) == 6, shapes  # 2 encoder self, 2 decoder self, 2 cross
        cross = [w for name, w in flat.items() if "cross_attention" in name]
        assert len(cross) == 2 and cross[0].shape == (2, 2, 5, 6)
        np.testing.assert_allclose(cross[0][0, :, :, 4:], 0.0)  # padded source positions
    else:
        (w,) = flat.values()
        assert w.shape == (2, 1, 5, 6)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)


def test_pointer_generator_outputs_a_distribution_with_finite_gradients(built, fast):
    model, params, apply = built
    if not model.config.pointer:
        pytest.skip("plain seq2seq models output logits")
    log_probs = apply(params, SOURCE, TARGETS_IN)
    np.testing.assert_allclose(jnp.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
    # Tokens that are not in the source have no copy mass: their log-prob stays finite and so
    # does the gradient (no probability floor, no log(0)).
    grad_fn = lambda p: jax.grad(  # noqa: E731
        lambda p: -jnp.sum(model.apply({"params": p}, SOURCE, TARGETS_IN)[:, :, 19])
    )(p)
    grads = fast(grad_fn, params)(params)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))


def _repeats_an_ngram(seq, n):
    grams = [tuple(seq[j : j + n]) for j in range(len(seq) - n + 1)]
    return len(set(grams)) < len(grams)


def test_decoders_block_repeated_trigrams(built, fast):
    model, params, _ = built
    length, never = BASE["max_length"], -1  # no EOS: all positions are generated
    decode = lambda fn, **kw: np.asarray(  # noqa: E731
        fast(fn, model, params, SOURCE, max_length=length, bos_id=BOS, eos_id=never, **kw)(params, SOURCE)[0]
    )
    plain = decode(greedy_decode)
    # The untrained models loop on a few tokens: without blocking some trigram comes back.
    assert any(_repeats_an_ngram(row.tolist(), 3) for row in plain), plain
    greedy = decode(greedy_decode, no_repeat_ngram_size=3)
    beams = decode(beam_decode, beam_size=3, no_repeat_ngram_size=3)
    for seq in [*greedy, *beams.reshape(-1, length)]:
        assert not _repeats_an_ngram(seq.tolist(), 3), seq


def test_decoders_hold_eos_back_until_min_length(built, fast):
    model, params, apply = built
    eos = _eos_from_greedy(params, apply)  # greedy ends example 0 within two tokens
    decode = lambda fn, **kw: np.asarray(  # noqa: E731
        fast(fn, model, params, SOURCE, max_length=MAX_LEN, bos_id=BOS, eos_id=eos, **kw)(params, SOURCE)[0]
    )
    first_eos = lambda seq: list(seq).index(eos) if eos in seq else len(seq)  # noqa: E731
    min_length = 4
    assert first_eos(decode(greedy_decode)[0].tolist()) < 2
    beams = decode(beam_decode, beam_size=3, min_length=min_length).reshape(-1, MAX_LEN)
    for seq in [*decode(greedy_decode, min_length=min_length), *beams]:
        assert first_eos(seq.tolist()) >= min_length, seq


def test_copy_distribution_is_the_one_hot_product():
    from attnjax.models.pointer import copy_distribution

    weights = jax.nn.softmax(jax.random.normal(jax.random.key(0), (2, 3, 5)), axis=-1)
    ids = jnp.array([[4, 7, 4, 1, 0], [2, 2, 2, 9, 3]], jnp.int32)  # repeated ids add up
    one_hot = lambda w: jnp.einsum("bts,bsv->btv", w, jax.nn.one_hot(ids, 10))  # noqa: E731
    np.testing.assert_allclose(copy_distribution(weights, ids, 10), one_hot(weights), atol=1e-7)
    probe = jax.random.normal(jax.random.key(1), (2, 3, 10))
    grad = lambda f: jax.grad(lambda w: jnp.sum(f(w) * probe))(weights)  # noqa: E731
    np.testing.assert_allclose(grad(lambda w: copy_distribution(w, ids, 10)), grad(one_hot), atol=1e-6)


def test_rnn_decoding_reads_the_memory_projected_once_by_encode(fast):
    # encode projects the decoder's keys and values of the memory once; a decoding step must use
    # them, not project encoded["memory"] again (that cost every decoded token a projection of the
    # whole article). Garbling the memory after encoding leaves the steps' log-probs unchanged.
    model = build_model({**BASE, **CONFIGS["rnn-pointer"]})
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = fast(model.init, rng, *inputs)(rng, *inputs)["params"]
    encoded = model.apply({"params": params}, SOURCE, method=model.encode)
    keys, values = encoded["memory_key_value"]
    assert keys.shape == values.shape == (2, SOURCE.shape[1], BASE["num_heads"], BASE["d_model"] // BASE["num_heads"])

    # One compiled step for every encoding below (eager, each step dispatches hundreds of ops).
    step = jax.jit(lambda encoded, tokens, cache: make_step_fn(model, params, encoded)(tokens, cache))

    def steps(encoded):
        cache = init_cache(model, encoded, SOURCE.shape[0], TARGETS_IN.shape[1])
        log_probs = []
        for tokens in TARGETS_IN.T:
            out, cache = step(encoded, tokens, cache)
            log_probs.append(out)
        return np.stack(log_probs, axis=1)

    reference = steps(encoded)
    garbled = steps({**encoded, "memory": encoded["memory"] * 0.0 + 3.0})
    np.testing.assert_allclose(garbled, reference, atol=1e-6)
    # The projection is what the steps read: changing it changes them.
    noise = jax.random.normal(jax.random.key(1), keys.shape)
    moved = steps({**encoded, "memory_key_value": (keys + noise, values)})
    assert not np.allclose(moved, reference, atol=1e-3)


def test_transformer_pointer_outputs_a_distribution_and_decodes_as_it_trains(fast):
    model = build_model({**BASE, **CONFIGS["transformer-pointer-coverage"], "num_layers": 1, "num_decoder_layers": 2})
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = fast(model.init, rng, *inputs)(rng, *inputs)["params"]
    assert params["copy_heads"]["kernel"].shape == (2 * BASE["d_model"], BASE["num_heads"])
    log_probs = fast(lambda p, s, t: model.apply({"params": p}, s, t), params, SOURCE, TARGETS_IN)(params, SOURCE, TARGETS_IN)
    np.testing.assert_allclose(jnp.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
    # One token at a time through the caches (self-attention keys, coverage) gives the same log-probs.
    stepped = fast(functools.partial(teacher_forced_steps, model), params, SOURCE, TARGETS_IN)(params, SOURCE, TARGETS_IN)
    np.testing.assert_allclose(stepped, log_probs, atol=1e-4)


def test_transformer_token_embeddings_start_at_the_positional_tables_scale():
    # The sinusoidal table has entries of size 1; tokens drawn at flax's default std 1/sqrt(d_model)
    # would start d_model**0.5 times smaller than the positions they are added to.
    model = build_model({**BASE, **CONFIGS["transformer"], "vocab_size": 400, "d_model": 64})
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = jax.jit(model.init)(rng, *inputs)["params"]
    assert 0.9 < float(jnp.std(params["embed"]["embedding"])) < 1.1
