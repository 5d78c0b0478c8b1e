"""Backend dispatch: which kernel runs a call on each platform, the reasons for falling back, errors
for an implementation that cannot run, and the numerics of the fused paths that run on a CPU (the
cuDNN path's inputs through jax.nn's XLA implementation; the Pallas TPU kernel in interpret mode)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ops_testing import init_params, random_qkv

import attnjax.ops as ops
from attnjax.ops import backends

BF16 = jnp.bfloat16


def _choice(platform, *, dtype=jnp.float32, score="scaled_dot", q_len=128, k_len=128, head_dim=64, **kwargs):
    q, k, v = random_qkv(q_len=q_len, k_len=k_len, head_dim=head_dim, dtype=dtype)
    params = init_params(score, head_dim=head_dim)
    return ops.attention_implementation(q, k, v, score=score, score_params=params, platform=platform, **kwargs)


def test_the_table_has_a_backend_per_implementation_with_xla_last():
    assert ops.BACKENDS.names() == ("cudnn", "pallas", "xla")
    for name in ops.BACKENDS:
        assert callable(ops.BACKENDS.get(name).supports)


@pytest.mark.parametrize("score", ["scaled_dot", "dot", "general", "cosine", "gaussian"])
def test_every_dot_form_score_goes_to_the_platforms_fused_kernel(score):
    assert _choice("gpu", dtype=BF16, score=score).name == "cudnn"
    assert _choice("gpu", dtype=jnp.float16, score=score, is_causal=True).name == "cudnn"
    assert _choice("tpu", score=score).name == "pallas"
    assert _choice("tpu", dtype=BF16, score=score, is_causal=True).name == "pallas"
    cpu = _choice("cpu", dtype=BF16, score=score)
    assert cpu.name == "xla" and cpu.skipped == ()  # no fused kernel is tried on a CPU


@pytest.mark.parametrize("platform, kwargs, reason", [
    ("gpu", dict(dtype=BF16, score="additive"), "score 'additive' has no dot-product form"),
    ("tpu", dict(score="additive"), "score 'additive' has no dot-product form"),
    ("gpu", dict(dtype=BF16, return_weights=True), "attention weights are asked for"),
    ("tpu", dict(dropout_rate=0.1, dropout_rng=jax.random.key(0)), "dropout on the attention weights"),
    ("gpu", dict(), "compute dtype is float32, and the kernel takes float16 or bfloat16"),
    ("tpu", dict(dtype=jnp.float16), "compute dtype is float16, and the kernel takes float32 or bfloat16"),
    ("gpu", dict(dtype=BF16, head_dim=136), "head dim is 136 after padding, and cuDNN takes at most 128"),
    # gaussian's key bias takes one more column: 128 + 1, padded to 136.
    ("gpu", dict(dtype=BF16, score="gaussian", head_dim=128), "head dim is 136 after padding"),
    ("gpu", dict(dtype=BF16, q_len=7, k_len=8, mask=jnp.ones((1, 1, 7, 8), bool)), "not even"),
    ("tpu", dict(q_len=128, k_len=200), "(Lq=128, Lk=200) are not multiples of 128"),
    ("tpu", dict(q_len=0, k_len=128), "a length is zero"),
])
def test_fallback_to_xla_says_why(platform, kwargs, reason):
    choice = _choice(platform, **kwargs)
    assert choice.name == "xla" and not choice.fused
    ((skipped, why),) = choice.skipped
    assert skipped == {"gpu": "cudnn", "tpu": "pallas"}[platform]
    assert reason in why
    assert reason in choice.explain()


def test_odd_lengths_without_a_bias_stay_on_cudnn():
    assert _choice("gpu", dtype=BF16, q_len=7, k_len=9).name == "cudnn"


@pytest.mark.parametrize("implementation, platform, message", [
    ("cudnn", "cpu", "cuDNN flash attention runs on GPU only, and this is platform 'cpu'"),
    ("pallas", "gpu", "runs on TPU only, and this is platform 'gpu'"),
    ("cudnn", "gpu", "compute dtype is float32"),
])
def test_an_explicit_implementation_that_cannot_run_raises_with_the_reason(implementation, platform, message):
    with pytest.raises(ValueError, match=rf"implementation='{implementation}' cannot run .*{message}.*"
                                         r"implementation=None"):
        _choice(platform, implementation=implementation)


def test_attention_raises_before_running_and_xla_always_runs():
    q, k, v = random_qkv()
    for fn in (ops.attention, ops.chunked_attention):
        with pytest.raises(ValueError, match="implementation='cudnn' cannot run"):
            fn(q, k, v, implementation="cudnn")
        with pytest.raises(ValueError, match="unknown attention implementation 'flash'; expected one of: cudnn"):
            fn(q, k, v, implementation="flash")
        np.testing.assert_allclose(fn(q, k, v, implementation="xla"), fn(q, k, v), atol=1e-6)
    assert _choice("gpu", implementation="xla").name == "xla"


# --- numerics of the fused paths ---------------------------------------------------------------------


def _hard_mask_and_bias(q_len, k_len, heads=2):
    """A key padding mask, a bias with -inf entries, and a fully masked query row."""
    mask = np.ones((2, 1, q_len, k_len), bool)
    mask[1, :, :, k_len // 2:] = False  # key padding in batch row 1
    mask[0, :, 3] = False  # query 3 of batch row 0 sees nothing
    bias = np.array(0.5 * jax.random.normal(jax.random.key(8), (1, heads, q_len, k_len)))
    bias[0, :, :, 1] = -np.inf  # key 1 is masked through the bias
    return jnp.asarray(mask), jnp.asarray(bias)


def _moved_params(name, heads, head_dim):
    params = init_params(name, heads=heads, head_dim=head_dim)
    return None if params is None else jax.tree.map(lambda x: x + 0.2, params)


@pytest.mark.parametrize("score", ["scaled_dot", "general", "cosine", "gaussian"])
def test_the_cudnn_path_inputs_give_the_xla_result_values_and_gradients(score):
    # run_jax_nn with implementation="xla" runs exactly what the cudnn backend hands to cuDNN (key
    # bias folded into the head dim, padding to a multiple of 8, one mask, empty rows zeroed).
    q, k, v = random_qkv(seed=2, q_len=10, k_len=6, heads=2, head_dim=12)
    params = _moved_params(score, 2, 12)
    mask, bias = _hard_mask_and_bias(10, 6)
    s = ops.get_score(score)

    def through_jax_nn(q, k, v, params):
        qq, kk, vv, b, m = ops.inputs.prepare_inputs(q, k, v, bias, mask)
        call = backends.describe_call(s, qq, kk, vv, params, b, m, is_causal=True, dropout=False,
                                      needs_weights=False)
        return backends.run_jax_nn(call, implementation="xla")

    def ours(q, k, v, params):
        return ops.attention(q, k, v, bias=bias, mask=mask, is_causal=True, score=s, score_params=params)

    def loss(fn):
        return jax.value_and_grad(lambda *a: jnp.sum(jnp.sin(fn(*a))), argnums=(0, 1, 2, 3))(q, k, v, params)

    out = jax.jit(through_jax_nn)(q, k, v, params)
    np.testing.assert_allclose(out, ours(q, k, v, params), atol=2e-5)
    assert np.all(np.asarray(out)[0, 3] == 0.0)
    (_, grads), (_, grads_ref) = loss(through_jax_nn), loss(ours)
    for g, g_ref in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref)):
        np.testing.assert_allclose(g, g_ref, atol=1e-4, rtol=1e-4)


def test_attention_hands_a_supported_call_to_the_chosen_backend(monkeypatch):
    # On an injected GPU, a bfloat16 call reaches the cudnn backend; its kernel is swapped for the same
    # inputs through jax.nn's XLA implementation, which a CPU can run.
    cudnn = ops.BACKENDS.get("cudnn")
    seen = []

    def run(call):
        seen.append(call.score_name)
        return backends.run_jax_nn(call, implementation="xla")

    monkeypatch.setattr(backends, "current_platform", lambda: "gpu")
    monkeypatch.setitem(ops.BACKENDS._items, "cudnn", dataclasses.replace(cudnn, run=run))
    q, k, v = random_qkv(q_len=8, k_len=8, head_dim=16, dtype=BF16)
    params = init_params("gaussian", head_dim=16)
    for fn in (ops.attention, ops.chunked_attention):
        out = fn(q, k, v, score="gaussian", score_params=params, is_causal=True)
        ref = fn(q, k, v, score="gaussian", score_params=params, is_causal=True, implementation="xla")
        assert out.dtype == BF16
        np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref, np.float32), atol=3e-2)
    assert seen == ["gaussian", "gaussian"]
    ops.attention(q, k, v, return_weights=True)  # falls back: never handed to cudnn
    assert seen == ["gaussian", "gaussian"]


# --- the Pallas TPU kernel, in interpret mode on a CPU (slow: it simulates the TPU grid) -------------


@pytest.fixture
def on_interpreted_tpu(monkeypatch):
    pltpu = pytest.importorskip("jax.experimental.pallas.tpu")
    monkeypatch.setattr(backends, "current_platform", lambda: "tpu")
    with pltpu.force_tpu_interpret_mode():
        yield


def _pallas_vs_xla(score, q_len, k_len, heads=1, head_dim=8, **kwargs):
    q, k, v = random_qkv(seed=4, batch=2, q_len=q_len, k_len=k_len, heads=heads, head_dim=head_dim)
    params = _moved_params(score, heads, head_dim)
    args = dict(score=score, score_params=params, **kwargs)
    assert ops.attention_implementation(q, k, v, **args).name == "pallas"
    out = ops.attention(q, k, v, **args)
    np.testing.assert_allclose(out, ops.attention(q, k, v, implementation="xla", **args), atol=2e-5)
    return out


def test_pallas_kernel_with_a_key_padding_mask_in_interpret_mode(on_interpreted_tpu):
    mask = ops.key_padding_mask(ops.padding_mask(jnp.array([128, 50]), 128))  # as segment ids
    _pallas_vs_xla("scaled_dot", 128, 128, mask=mask)


@pytest.mark.slow
@pytest.mark.parametrize("score", ["gaussian", "cosine"])
def test_pallas_kernel_with_bias_masks_and_causal_in_interpret_mode(on_interpreted_tpu, score):
    mask, bias = _hard_mask_and_bias(128, 256, heads=1)
    out = _pallas_vs_xla(score, 128, 256, mask=mask, bias=bias, is_causal=True)
    assert np.all(np.asarray(out)[0, 3] == 0.0)


@pytest.mark.slow
def test_pallas_kernel_gradients_in_interpret_mode(on_interpreted_tpu):
    q, k, v = random_qkv(seed=5, batch=1, q_len=128, k_len=128, heads=1, head_dim=8)
    params = _moved_params("gaussian", 1, 8)

    def loss(implementation):
        def f(q, k, v, params):
            out = ops.attention(q, k, v, score="gaussian", score_params=params, is_causal=True,
                                implementation=implementation)
            return jnp.sum(jnp.sin(out))
        return jax.grad(f, argnums=(0, 1, 2, 3))(q, k, v, params)

    for g, g_ref in zip(jax.tree.leaves(loss("pallas")), jax.tree.leaves(loss("xla"))):
        np.testing.assert_allclose(g, g_ref, atol=1e-4, rtol=1e-4)
