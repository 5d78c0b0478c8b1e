import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import ops
from attnjax.nn import Attention

X = jax.random.normal(jax.random.key(0), (2, 6, 16))


@pytest.mark.parametrize("score", ops.list_scores())
def test_every_score_builds_and_sows_weights(score):
    module = Attention(num_heads=4, score=score)
    variables = module.init(jax.random.key(1), X)
    assert ("score" in variables["params"]) == ops.get_score(score).has_params
    out, state = module.apply(variables, X, mutable=["intermediates"])
    assert out.shape == X.shape
    (weights,) = state["intermediates"]["attention_weights"]
    assert weights.shape == (2, 4, 6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


def test_single_head_and_cross_attention_shapes():
    memory = jax.random.normal(jax.random.key(2), (2, 9, 24))
    module = Attention(num_heads=1, score="additive", out_features=8)
    variables = module.init(jax.random.key(1), X, memory)
    out, weights = module.apply(variables, X, memory, return_weights=True)
    assert out.shape == (2, 6, 8) and weights.shape == (2, 1, 6, 9)


def test_heads_must_divide_features():
    with pytest.raises(ValueError, match="num_heads=3"):
        Attention(num_heads=3).init(jax.random.key(0), X)


def test_padded_keys_do_not_change_outputs():
    mask = jnp.arange(6)[None, :] < jnp.array([[4], [6]])
    module = Attention(num_heads=2, score="general")
    variables = module.init(jax.random.key(1), X)
    noisy = X.at[0, 4:].set(100.0)
    out = module.apply(variables, X, mask=ops.key_padding_mask(mask))
    out_noisy = module.apply(variables, noisy, mask=ops.key_padding_mask(mask))
    np.testing.assert_allclose(out[0, :4], out_noisy[0, :4], atol=1e-5)


def test_chunked_path_matches_and_sows_nothing():
    plain = Attention(num_heads=2, score="cosine")
    chunked = Attention(num_heads=2, score="cosine", use_chunked=True, query_chunk_size=4, key_chunk_size=4)
    variables = plain.init(jax.random.key(1), X)
    out, state = chunked.apply(variables, X, is_causal=True, mutable=["intermediates"])
    np.testing.assert_allclose(out, plain.apply(variables, X, is_causal=True), atol=1e-5)
    assert "intermediates" not in state or not state["intermediates"]
    with pytest.raises(ValueError, match="return_weights"):
        chunked.apply(variables, X, return_weights=True)


def test_cached_decoding_equals_causal_full_pass(fast):
    # With rotary, the hardest case: each cached key must be rotated by its own position.
    module = Attention(num_heads=2, score="additive", rotary=True, decode=True)
    rng = jax.random.key(1)
    variables = fast(module.init, rng, X)(rng, X)
    params, cache = {"params": variables["params"]}, variables["cache"]
    full = Attention(num_heads=2, score="additive", rotary=True).apply(params, X, is_causal=True)

    def step_through(params, cache, x):
        def step(cache, x_t):
            out, state = module.apply({**params, "cache": cache}, x_t[:, None], mutable=["cache"])
            return state["cache"], out[:, 0]

        return jnp.swapaxes(jax.lax.scan(step, cache, jnp.swapaxes(x, 0, 1))[1], 0, 1)

    stepped = fast(step_through, params, cache, X)(params, cache, X)
    np.testing.assert_allclose(stepped, full, atol=1e-5)


def test_dropout_needs_rng_and_changes_output():
    module = Attention(num_heads=2, dropout_rate=0.5)
    variables = module.init(jax.random.key(1), X)
    a = module.apply(variables, X, deterministic=False, rngs={"dropout": jax.random.key(3)})
    b = module.apply(variables, X, deterministic=True)
    assert not np.allclose(a, b)


def test_qk_features_widens_queries_and_keys_only():
    # Vaswani et al.'s d_k apart from d_v: q/k at 48 (two heads of 24), v and the output at 16.
    module = Attention(num_heads=2, score="scaled_dot", qk_features=48)
    variables = module.init(jax.random.key(1), X)
    p = variables["params"]
    assert p["query"]["kernel"].shape == p["key"]["kernel"].shape == (16, 2, 24)
    assert p["value"]["kernel"].shape == (16, 2, 8) and p["out"]["kernel"].shape == (2, 8, 16)
    out, weights = module.apply(variables, X, return_weights=True)

    # Independent numpy reference: the scale is 1/sqrt(d_k) = 1/sqrt(24), not the value width.
    x = np.asarray(X, np.float64)
    proj = lambda name: np.einsum("blf,fhd->blhd", x, p[name]["kernel"]) + p[name]["bias"]  # noqa: E731
    q, k, v = proj("query"), proj("key"), proj("value")
    logits = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(24)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    mixed = np.einsum("bhqk,bkhd->bqhd", w, v)
    expected = np.einsum("bqhd,hdf->bqf", mixed, p["out"]["kernel"]) + p["out"]["bias"]
    np.testing.assert_allclose(weights, w, atol=1e-5)
    np.testing.assert_allclose(out, expected, atol=1e-4)

    with pytest.raises(ValueError, match=r"qk_features=18"):
        Attention(num_heads=4, qk_features=18).init(jax.random.key(0), X)


@pytest.mark.parametrize("score", ["general", "additive"])
def test_qk_features_with_cache_and_projected_memory(fast, score):
    # The decode cache holds keys and values of different widths; a scored cache step equals the
    # causal full pass.
    module = Attention(num_heads=2, score=score, qk_features=32, decode=True)
    rng = jax.random.key(1)
    variables = module.init(rng, X)
    assert variables["cache"]["cached_key"].shape == (2, 6, 2, 16)
    assert variables["cache"]["cached_value"].shape == (2, 6, 2, 8)
    params, cache = {"params": variables["params"]}, variables["cache"]
    full = Attention(num_heads=2, score=score, qk_features=32).apply(params, X, is_causal=True)
    outs = []
    for t in range(X.shape[1]):
        out, state = module.apply({**params, "cache": cache}, X[:, t:t + 1], mutable=["cache"])
        cache = state["cache"]
        outs.append(out[:, 0])
    np.testing.assert_allclose(jnp.stack(outs, 1), full, atol=1e-5)

    # Keys and values projected outside the module: each with its own width, checked by name.
    cross = Attention(num_heads=2, score=score, qk_features=32)
    key, value = jnp.zeros((2, 9, 2, 16)), jnp.zeros((2, 9, 2, 8))
    cross_vars = cross.init(rng, X, key_value=(key, value))
    assert cross.apply(cross_vars, X, key_value=(key, value)).shape == X.shape
    with pytest.raises(ValueError, match=r"\(2, 9, 2, 16\) keys and .*\(2, 9, 2, 8\) values, got \(2, 9, 2, 8\)"):
        cross.apply(cross_vars, X, key_value=(value, value))


@pytest.mark.parametrize("score", ["additive", "general"])
def test_qk_features_with_coverage(score):
    # Coverage reads the weights only, so a key width apart from the value width changes nothing there.
    memory = jax.random.normal(jax.random.key(2), (2, 7, 16))
    module = Attention(num_heads=2, score=score, qk_features=32, coverage=True)
    variables = module.init(jax.random.key(1), X, memory)
    out, covered = module.apply(variables, X, memory)
    assert out.shape == X.shape and covered.weights.shape == (2, 2, 6, 7)
    np.testing.assert_allclose(covered.final_coverage, covered.weights.mean(1).sum(1), rtol=1e-5)
