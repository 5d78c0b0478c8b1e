import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import nn as ann

B, LS, LT, D = 2, 7, 5, 16
SRC = jax.random.normal(jax.random.key(0), (B, LS, D))
TGT = jax.random.normal(jax.random.key(1), (B, LT, D))
SRC_MASK = jnp.arange(LS)[None, :] < jnp.array([[4], [7]])


def _init(fast, module, *args):
    rng = jax.random.key(2)
    return fast(module.init, rng, *args)(rng, *args)


def _step_through(module, variables, cache, y, *rest):
    """Feeds ``y [batch, length, ...]`` one position at a time through a ``decode=True`` module."""

    def step(cache, y_t):
        out, state = module.apply({**variables, "cache": cache}, y_t[:, None], *rest, mutable=["cache"])
        return state["cache"], out

    _, outs = jax.lax.scan(step, cache, jnp.swapaxes(y, 0, 1))
    return jax.tree.map(lambda o: jnp.swapaxes(o[:, :, 0], 0, 1), outs)


@pytest.mark.parametrize("pre_norm", [True, False])
def test_encoder_ignores_padding(pre_norm, fast):
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score="additive", pre_norm=pre_norm)
    encoder = ann.TransformerEncoder(config, num_layers=2)
    variables = _init(fast, encoder, SRC, SRC_MASK)
    apply = fast(lambda v, x: encoder.apply(v, x, SRC_MASK, mutable=["intermediates"]), variables, SRC)
    out, state = apply(variables, SRC)
    noisy, _ = apply(variables, SRC.at[0, 4:].set(9.0))
    np.testing.assert_allclose(out[0, :4], noisy[0, :4], atol=1e-5)
    weights = jax.tree.leaves(state["intermediates"])
    assert len(weights) == 2 and weights[0].shape == (B, 2, LS, LS)


def test_encoder_without_attention_mixes_no_tokens(fast):
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score=None)
    encoder = ann.TransformerEncoder(config, num_layers=1)
    variables = _init(fast, encoder, SRC, SRC_MASK)
    apply = fast(lambda v, x: encoder.apply(v, x, SRC_MASK), variables, SRC)
    out, changed = apply(variables, SRC), apply(variables, SRC.at[:, 0].set(3.0))
    np.testing.assert_allclose(out[:, 1:], changed[:, 1:], atol=1e-6)
    assert not np.allclose(out[:, 0], changed[:, 0])


def test_decoder_is_causal_and_cache_matches_full_pass(fast):
    # Rotary here; the model tests cover the cached decoder with additive positional encodings.
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score="general", rotary=True)
    full = ann.TransformerDecoder(config, num_layers=2)
    stepper = ann.TransformerDecoder(config, num_layers=2, decode=True)
    # One init gives both: the decode=True init runs a full pass to size the cache.
    variables = _init(fast, stepper, TGT, SRC, SRC_MASK)
    cache = variables.pop("cache")
    apply = fast(lambda v, y: full.apply(v, y, SRC, SRC_MASK), variables, TGT)
    out = apply(variables, TGT)
    future = apply(variables, TGT.at[:, 3:].set(5.0))
    np.testing.assert_allclose(out[:, :3], future[:, :3], atol=1e-5)
    assert not np.allclose(out[:, 3:], future[:, 3:])

    run = lambda v, c, y: _step_through(stepper, v, c, y, SRC, SRC_MASK)  # noqa: E731
    stepped = fast(run, variables, cache, TGT)(variables, cache, TGT)
    np.testing.assert_allclose(stepped, out, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_encoder_ignores_padding_both_directions(cell, fast):
    encoder = ann.RNNEncoder(cell, hidden_size=8)
    variables = _init(fast, encoder, SRC, SRC_MASK)
    apply = fast(lambda v, x: encoder.apply(v, x, SRC_MASK), variables, SRC)
    out, carries = apply(variables, SRC)
    noisy_out, noisy_carries = apply(variables, SRC.at[0, 4:].set(7.0))
    assert out.shape == (B, LS, 16)
    np.testing.assert_allclose(out, noisy_out, atol=1e-5)
    np.testing.assert_allclose(out[0, 4:], 0.0)
    for a, b in zip(jax.tree.leaves(carries), jax.tree.leaves(noisy_carries)):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("score", ["additive", None])
def test_rnn_decoder_cache_matches_full_pass(score, fast):
    memory = jax.random.normal(jax.random.key(5), (B, LS, 12))
    carry0 = jnp.full((B, D), 0.1)
    full = ann.RNNDecoder("gru", D, score=score, num_heads=1)
    stepper = ann.RNNDecoder("gru", D, score=score, num_heads=1, decode=True)
    variables = _init(fast, stepper, TGT, carry0, memory, SRC_MASK)
    cache = variables.pop("cache")
    states, _, weights = fast(full.apply, variables, TGT, carry0, memory, SRC_MASK)(
        variables, TGT, carry0, memory, SRC_MASK
    )
    if score is not None:
        np.testing.assert_allclose(weights[0, :, 4:], 0.0)
        np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    run = lambda v, c, y: _step_through(stepper, v, c, y, carry0, memory, SRC_MASK)[0]  # noqa: E731
    stepped = fast(run, variables, cache, TGT)(variables, cache, TGT)
    np.testing.assert_allclose(stepped, states, atol=1e-5)


def test_attention_with_projected_key_value_matches_projecting_itself():
    # RNNDecoder projects its memory once and passes key_value=; the result is the same attention.
    layer = ann.Attention(num_heads=2, score="general", qkv_features=D)
    query = TGT[:, :1]
    mask = SRC_MASK[:, None, None, :]
    variables = layer.init(jax.random.key(3), query, SRC, mask)
    expected, expected_weights = layer.apply(variables, query, SRC, mask, return_weights=True)
    params = variables["params"]
    project = lambda name: jnp.einsum("bld,dhk->blhk", SRC, params[name]["kernel"]) + params[name]["bias"]  # noqa: E731
    got, weights = layer.apply(
        variables, query, mask=mask, return_weights=True, key_value=(project("key"), project("value"))
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)


def test_attention_rejects_key_value_it_cannot_use():
    layer = ann.Attention(num_heads=2, qkv_features=D)
    query = TGT[:, :1]
    keys = jnp.zeros((B, LS, 2, D // 2))
    variables = layer.init(jax.random.key(3), query, SRC)
    with pytest.raises(ValueError, match="either inputs_kv .* or key_value"):
        layer.apply(variables, query, SRC, key_value=(keys, keys))
    with pytest.raises(ValueError, match=r"key_value must be \[batch, kv_len, heads, qk_features // heads\]"):
        layer.apply(variables, query, key_value=(keys[..., :3], keys))


def _decoder_weights(mix_heads, params=None):
    memory = jax.random.normal(jax.random.key(5), (B, LS, 12))
    carry0 = jnp.full((B, D), 0.1)
    decoder = ann.RNNDecoder("lstm", D, score="scaled_dot", num_heads=4, mix_heads=mix_heads)
    carry0 = (carry0, carry0)
    variables = {"params": params} if params is not None else decoder.init(jax.random.key(2), TGT, carry0, memory, SRC_MASK)
    _, _, weights = decoder.apply(variables, TGT, carry0, memory, SRC_MASK)
    return variables["params"], weights


def test_mixed_heads_start_as_the_heads_mean_and_stay_a_distribution():
    params, mean_weights = _decoder_weights(False)
    mixed_params, mixed = _decoder_weights(True)
    assert "copy_heads" in mixed_params["step"] and "copy_heads" not in params["step"]
    np.testing.assert_allclose(mixed, mean_weights, atol=1e-6)  # zero kernel: the mean
    # A non-zero mixing kernel gives another distribution over the source, still masked.
    kernel = mixed_params["step"]["copy_heads"]["kernel"]
    mixed_params["step"]["copy_heads"]["kernel"] = jax.random.normal(jax.random.key(9), kernel.shape) * 3.0
    _, moved = _decoder_weights(True, mixed_params)
    assert float(jnp.max(jnp.abs(moved - mean_weights))) > 1e-2
    np.testing.assert_allclose(moved.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(moved[0, :, 4:], 0.0)
