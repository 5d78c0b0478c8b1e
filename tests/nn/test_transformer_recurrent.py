import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import nn as ann

B, LS, LT, D = 2, 7, 5, 16
SRC = jax.random.normal(jax.random.key(0), (B, LS, D))
TGT = jax.random.normal(jax.random.key(1), (B, LT, D))
SRC_MASK = jnp.arange(LS)[None, :] < jnp.array([[4], [7]])


@pytest.mark.parametrize("pre_norm", [True, False])
def test_encoder_ignores_padding(pre_norm):
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score="additive", pre_norm=pre_norm)
    encoder = ann.TransformerEncoder(config, num_layers=2)
    variables = encoder.init(jax.random.key(2), SRC, SRC_MASK)
    out, state = encoder.apply(variables, SRC, SRC_MASK, mutable=["intermediates"])
    noisy = encoder.apply(variables, SRC.at[0, 4:].set(9.0), SRC_MASK)
    np.testing.assert_allclose(out[0, :4], noisy[0, :4], atol=1e-5)
    weights = [w for w in jax.tree.leaves(state["intermediates"])]
    assert len(weights) == 2 and weights[0].shape == (B, 2, LS, LS)


def test_encoder_without_attention_mixes_no_tokens():
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score=None)
    encoder = ann.TransformerEncoder(config, num_layers=1)
    variables = encoder.init(jax.random.key(2), SRC, SRC_MASK)
    out = encoder.apply(variables, SRC, SRC_MASK)
    changed = encoder.apply(variables, SRC.at[:, 0].set(3.0), SRC_MASK)
    np.testing.assert_allclose(out[:, 1:], changed[:, 1:], atol=1e-6)


@pytest.mark.parametrize("rotary", [False, True])
def test_decoder_is_causal_and_cache_matches_full_pass(rotary):
    config = ann.LayerConfig(d_model=D, num_heads=2, mlp_dim=32, score="general", rotary=rotary)
    full = ann.TransformerDecoder(config, num_layers=2)
    variables = full.init(jax.random.key(3), TGT, SRC, SRC_MASK)
    out = full.apply(variables, TGT, SRC, SRC_MASK)
    future = full.apply(variables, TGT.at[:, 3:].set(5.0), SRC, SRC_MASK)
    np.testing.assert_allclose(out[:, :3], future[:, :3], atol=1e-5)

    stepper = ann.TransformerDecoder(config, num_layers=2, decode=True)
    cache = stepper.init(jax.random.key(3), TGT, SRC, SRC_MASK)["cache"]
    apply = jax.jit(stepper.apply, static_argnames="mutable")
    steps = []
    for t in range(LT):
        y, state = apply(
            {"params": variables["params"], "cache": cache}, TGT[:, t : t + 1], SRC, SRC_MASK,
            mutable=("cache",),
        )
        cache = state["cache"]
        steps.append(y)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), out, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_encoder_ignores_padding_both_directions(cell):
    encoder = ann.RNNEncoder(cell, hidden_size=8)
    variables = encoder.init(jax.random.key(0), SRC, SRC_MASK)
    out, carries = encoder.apply(variables, SRC, SRC_MASK)
    noisy_out, noisy_carries = encoder.apply(variables, SRC.at[0, 4:].set(7.0), SRC_MASK)
    assert out.shape == (B, LS, 16)
    np.testing.assert_allclose(out, noisy_out, atol=1e-5)
    for a, b in zip(jax.tree.leaves(carries), jax.tree.leaves(noisy_carries)):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("score", ["additive", None])
def test_rnn_decoder_cache_matches_full_pass(score):
    memory = jax.random.normal(jax.random.key(5), (B, LS, 12))
    carry0 = jnp.full((B, D), 0.1)
    full = ann.RNNDecoder("gru", D, score=score, num_heads=1)
    variables = full.init(jax.random.key(4), TGT, carry0, memory, SRC_MASK)
    states, _, weights = full.apply(variables, TGT, carry0, memory, SRC_MASK)
    if score is not None:
        np.testing.assert_allclose(weights[0, :, 4:], 0.0)
    stepper = ann.RNNDecoder("gru", D, score=score, num_heads=1, decode=True)
    cache = stepper.init(jax.random.key(4), TGT, carry0, memory, SRC_MASK)["cache"]
    apply = jax.jit(stepper.apply, static_argnames="mutable")
    steps = []
    for t in range(LT):
        (s, _, _), state = apply(
            {"params": variables["params"], "cache": cache}, TGT[:, t : t + 1], carry0, memory,
            SRC_MASK, mutable=("cache",),
        )
        cache = state["cache"]
        steps.append(s)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), states, atol=1e-5)
