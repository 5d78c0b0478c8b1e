"""``ModelConfig.dtype``: bfloat16 / float16 compute on float32 parameters, for every model.

Compiling dominates on CPU, so each case is one compiled function (init, then the float32 and the
bfloat16 forward pass on the same parameters, plus the bfloat16 backward pass for one case per
model), shared by the tests through a cache; activation dtypes are read from traces alone
(``eval_shape`` / ``make_jaxpr``: nothing is compiled for them).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import core as jcore

from attnjax.models import DTYPES, MODELS, ModelConfig, build_model, greedy_decode
from attnjax.models.decoding import init_cache

BF16, F32 = jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float32)
BASE = dict(vocab_size=20, d_model=16, num_heads=2, num_layers=1, num_decoder_layers=1, mlp_dim=32,
            max_length=12, dropout_rate=0.0, pooling_hidden=8, dtype="bfloat16")
CASES = {
    "classifier-transformer-additive-cls": dict(
        model="classifier", attention="additive", pooling="cls", positional="rotary"
    ),
    "classifier-transformer-none": dict(model="classifier", attention="none", positional="learned"),
    "classifier-lstm-additive-attention_pool": dict(
        model="classifier", encoder="lstm", attention="additive", pooling="attention"
    ),
    "classifier-gru-scaled_dot-structured": dict(model="classifier", encoder="gru", pooling="structured"),
    "seq2seq_transformer-scaled_dot": dict(model="seq2seq_transformer", positional="learned", pre_norm=False),
    "seq2seq_rnn-lstm-additive-pointer": dict(model="seq2seq_rnn", attention="additive", pointer=True),
    "seq2seq_rnn-gru-none": dict(model="seq2seq_rnn", attention="none", cell="gru"),
}
# One case per model also runs the backward pass.
GRADIENT_CASES = (
    "classifier-transformer-additive-cls",
    "seq2seq_transformer-scaled_dot",
    "seq2seq_rnn-lstm-additive-pointer",
)
# Submodule outputs that are float32 by design: the RNN decoder's attention weights.
FLOAT32_OUTPUTS = {"['decoder']['__call__'][0][2]"}
SOURCE = jnp.array([[5, 9, 3, 7, 0, 0], [8, 8, 2, 14, 11, 6]], jnp.int32)
TARGETS_IN = jnp.array([[1, 9, 7, 4, 3, 0], [1, 8, 14, 11, 6, 12]], jnp.int32)


def config_for(name, **changes):
    return {**BASE, **CASES[name], **changes}


def inputs_for(config):
    return (SOURCE,) if config["model"] == "classifier" else (SOURCE, TARGETS_IN)


def relative_error(actual, expected):
    return float(jnp.linalg.norm(actual - expected) / jnp.linalg.norm(expected))


def loss_and_output(model, params, inputs):
    """Cross-entropy against fixed labels (class 1; the ``targets_in`` tokens), and the output."""
    out = model.apply({"params": params}, *inputs)
    labels = inputs[1] if len(inputs) > 1 else jnp.ones(out.shape[:-1], jnp.int32)
    log_probs = jax.nn.log_softmax(out, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_probs, labels[..., None], axis=-1)), out


def dot_general_dtypes(jaxpr):
    """Operand dtypes of every ``dot_general`` in ``jaxpr``, nested jaxprs (scan, jit) included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(tuple(v.aval.dtype for v in eqn.invars))
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                if isinstance(sub, jcore.ClosedJaxpr):
                    found += dot_general_dtypes(sub.jaxpr)
                elif isinstance(sub, jcore.Jaxpr):
                    found += dot_general_dtypes(sub)
    return found


@functools.cache
def run_case(name, fast):
    """``{"params", "out32", "out16", "loss", "grads"}`` of case ``name``, from one compiled call.

    Only the :data:`GRADIENT_CASES` differentiate: a bfloat16 backward pass costs several forward
    passes to compile.
    """
    config = config_for(name)
    model16, model32 = build_model(config), build_model({**config, "dtype": "float32"})

    def run(rng, inputs):
        params = model16.init(rng, *inputs)["params"]
        result = {"params": params, "out32": model32.apply({"params": params}, *inputs)}
        if name in GRADIENT_CASES:
            (result["loss"], result["out16"]), result["grads"] = jax.value_and_grad(
                lambda p: loss_and_output(model16, p, inputs), has_aux=True
            )(params)
        else:
            result["out16"] = model16.apply({"params": params}, *inputs)
        return result

    rng, inputs = jax.random.key(0), inputs_for(config)
    return fast(run, rng, inputs)(rng, inputs)


def test_cases_cover_every_model_and_attention_variant():
    assert {c["model"] for c in CASES.values()} == set(MODELS.names())
    assert {c.get("attention", "scaled_dot") for c in CASES.values()} == {"scaled_dot", "additive", "none"}
    assert {CASES[name]["model"] for name in GRADIENT_CASES} == set(MODELS.names())


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_params_stay_float32(name, fast):
    assert {x.dtype for x in jax.tree.leaves(run_case(name, fast)["params"])} == {F32}


@pytest.mark.parametrize("name", CASES)
def test_output_is_float32_finite_and_close_to_float32_model(name, fast):
    result = run_case(name, fast)
    out16, out32 = result["out16"], result["out32"]
    assert out16.dtype == F32 and out16.shape == out32.shape
    # Pointer log-probs too: every token keeps P_vocab > 0, so none is -inf.
    assert np.all(np.isfinite(out16))
    assert relative_error(out16, out32) < 5e-2


@pytest.mark.parametrize("name", GRADIENT_CASES)
def test_gradients_are_float32_and_finite(name, fast):
    result = run_case(name, fast)
    grads = result["grads"]
    assert np.isfinite(result["loss"])
    assert jax.tree.structure(grads) == jax.tree.structure(result["params"])
    assert {g.dtype for g in jax.tree.leaves(grads)} == {F32}
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("name", CASES)
def test_activations_and_matmuls_are_bfloat16(name, fast):
    config, params = config_for(name), run_case(name, fast)["params"]
    model, inputs = build_model(config), inputs_for(config)
    # Every submodule's output, by its path (the root's own output is float32 by design; sown
    # attention weights are not outputs). Cells inside nn.RNN / nn.scan are not captured, but the
    # encoder / decoder around them are.
    captured = jax.eval_shape(
        lambda p: model.apply({"params": p}, *inputs, capture_intermediates=True, mutable=["intermediates"]),
        params,
    )[1]["intermediates"]
    outputs = {
        jax.tree_util.keystr(path): leaf.dtype
        for path, leaf in jax.tree_util.tree_flatten_with_path(captured)[0]
        if len(path) > 2 and "__call__" in jax.tree_util.keystr(path)
        and jnp.issubdtype(leaf.dtype, jnp.floating)
    }
    assert "['embed']['__call__'][0]" in outputs and len(outputs) >= 4
    assert {path: dtype for path, dtype in outputs.items() if dtype != BF16} == {
        path: F32 for path in FLOAT32_OUTPUTS if path in outputs
    }

    dots = dot_general_dtypes(jax.make_jaxpr(lambda p: model.apply({"params": p}, *inputs))(params).jaxpr)
    bf16 = [d for d in dots if set(d) == {BF16}]
    assert bf16
    if config.get("attention") != "additive" and not config.get("pointer"):
        # Float32 by design are only the additive score's v-contraction and the pointer's copy
        # distribution; without them every matmul runs in bfloat16.
        assert len(bf16) == len(dots)


@pytest.mark.parametrize(
    "name,changes",
    [
        ("seq2seq_transformer-scaled_dot", dict(attention="additive", positional="rotary")),
        ("seq2seq_rnn-lstm-additive-pointer", {}),
    ],
)
def test_greedy_decode_with_bfloat16_cache(name, changes, fast):
    """Greedy tokens from the bfloat16 cache score the same under the uncached bfloat16 forward pass."""
    model = build_model(config_for(name, **changes))
    max_length, bos, eos = 6, 1, 2

    def decode_and_rescore(rng, source):
        params = model.init(rng, source, TARGETS_IN)["params"]
        tokens, total = greedy_decode(model, params, source, max_length=max_length, bos_id=bos, eos_id=eos)
        targets_in = jnp.concatenate([jnp.full((source.shape[0], 1), bos, jnp.int32), tokens[:, :-1]], axis=1)
        log_probs = jax.nn.log_softmax(model.apply({"params": params}, source, targets_in), axis=-1)
        picked = jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]
        # Positions after the first EOS are padding, which the search does not score.
        after_eos = jnp.cumsum(tokens == eos, axis=1) - (tokens == eos) > 0
        return params, tokens, total, jnp.sum(jnp.where(after_eos, 0.0, picked), axis=1)

    rng = jax.random.key(1)
    params, tokens, total, rescored = fast(decode_and_rescore, rng, SOURCE)(rng, SOURCE)

    encoded = jax.eval_shape(lambda p: model.apply({"params": p}, SOURCE, method=model.encode), params)
    cache = jax.eval_shape(lambda e: init_cache(model, e, SOURCE.shape[0], max_length), encoded)
    assert {x.dtype for x in jax.tree.leaves(cache) if jnp.issubdtype(x.dtype, jnp.floating)} == {BF16}
    assert tokens.shape == (2, max_length) and tokens.dtype == jnp.int32
    assert np.all((tokens >= 0) & (tokens < model.config.vocab_size))
    assert total.dtype == F32 and np.all(np.isfinite(total))
    np.testing.assert_allclose(total, rescored, rtol=5e-2, atol=5e-2)


def test_float16_output_is_float32_and_close(fast):
    config = config_for("classifier-transformer-additive-cls", dtype="float16")
    model16, model32 = build_model(config), build_model({**config, "dtype": "float32"})

    def both(rng, source):
        params = model16.init(rng, source)["params"]
        return model32.apply({"params": params}, source), model16.apply({"params": params}, source)

    rng = jax.random.key(0)
    out32, out16 = fast(both, rng, SOURCE)(rng, SOURCE)
    assert out16.dtype == F32 and np.all(np.isfinite(out16))
    assert relative_error(out16, out32) < 1e-2


def test_dtype_names_resolve_and_a_bad_name_lists_the_allowed_ones():
    assert ModelConfig().dtype == "float32"
    assert {name: ModelConfig(dtype=name).compute_dtype for name in DTYPES} == {
        "float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16,
    }
    for bad in ("fp16", "float64", jnp.bfloat16):
        with pytest.raises(ValueError) as info:
            build_model({"dtype": bad})
        assert f"config.dtype={bad!r} is not allowed; expected one of: float32, bfloat16, float16" in str(
            info.value
        )
    with pytest.raises(ValueError, match="config.dtype='half'.*float32, bfloat16, float16"):
        ModelConfig(dtype="half").compute_dtype
