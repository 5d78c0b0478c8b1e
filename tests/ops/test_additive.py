"""tanh_sum: the additive score's kernel equals its formula, values and gradients, in both loop orders
(rows, scan) and on both paths (split, tanh)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import attnjax.ops as ops
from attnjax.ops import additive as tanh_sum_module
from attnjax.ops.additive import SPLIT_LIMIT, tanh_sum


@pytest.fixture(params=["rows", "scan"])
def order(request, monkeypatch):
    """Runs a test in each loop order: the small test shapes take rows unless the threshold drops."""
    if request.param == "scan":
        monkeypatch.setattr(tanh_sum_module, "SCAN_MIN_PAIRS", 1)
    return request.param


def _inputs(seed=0, b=2, lq=5, lk=7, h=3, a=6, scale=1.0):
    kx, ky, kv = jax.random.split(jax.random.key(seed), 3)
    x = scale * jax.random.normal(kx, (b, lq, h, a))
    y = scale * jax.random.normal(ky, (b, lk, h, a))
    v = jax.random.normal(kv, (h, a))
    return x, y, v


def _formula(x, y, v):
    """float64 numpy: sum_a v[h, a] tanh(x[b, i, h, a] + y[b, j, h, a]) as [B, H, Lq, Lk]."""
    x, y, v = (np.asarray(t, np.float64) for t in (x, y, v))
    t = np.tanh(x[:, :, None] + y[:, None, :])  # [B, Lq, Lk, H, A]
    return np.einsum("bqkha,ha->bhqk", t, v)


def _formula_jax(x, y, v):
    """The same in float32 jax, differentiated by autodiff: the gradients' reference."""
    t = jnp.tanh(x[:, :, None] + y[:, None, :])
    return jnp.einsum("bqkha,ha->bhqk", t, v)


@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_values_equal_the_formula(scale, order):
    x, y, v = _inputs(scale=scale)
    assert tanh_sum_module.scans_hidden_axis(x.shape, y.shape) == (order == "scan")
    assert bool(tanh_sum_module._splits(x, y))  # within the limit: the split form ran
    out = tanh_sum(x, y, v)
    assert out.shape == (2, 3, 5, 7) and out.dtype == jnp.float32
    np.testing.assert_allclose(out, _formula(x, y, v), atol=2e-6 * float(jnp.abs(v).sum(-1).max()))


def test_inputs_past_the_limit_take_the_tanh_path_and_stay_exact(order):
    # x = 25 and y = -24 cancel to tanh(1); e^{50} e^{-48} would overflow and lose it.
    x, y, v = _inputs()
    x = x.at[0, 0, 0, 0].set(25.0)
    y = y.at[0, 0, 0, 0].set(-24.0)
    assert not bool(tanh_sum_module._splits(x, y))
    out = tanh_sum(x, y, v)
    np.testing.assert_allclose(out, _formula(x, y, v), atol=1e-5)
    grads = jax.grad(lambda *a: jnp.sum(tanh_sum(*a) ** 2), argnums=(0, 1, 2))(x, y, v)
    expected = jax.grad(lambda *a: jnp.sum(_formula_jax(*a) ** 2), argnums=(0, 1, 2))(x, y, v)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("scale", [0.5, 3.0, SPLIT_LIMIT / 4])
def test_gradients_equal_autodiff_of_the_formula(scale, order):
    x, y, v = _inputs(seed=1, scale=scale)
    g = jax.random.normal(jax.random.key(9), (2, 3, 5, 7))
    _, vjp = jax.vjp(tanh_sum, x, y, v)
    _, vjp_ref = jax.vjp(_formula_jax, x, y, v)
    for got, want in zip(vjp(g), vjp_ref(g)):
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)


def test_both_paths_agree_within_the_limit():
    x, y, v = _inputs(seed=2, scale=4.0)
    g = jax.random.normal(jax.random.key(3), (2, 3, 5, 7))
    m = tanh_sum_module
    rows = (m._heads_first(x), m._heads_first(y), v)  # [B, H, L, A], v [H, A]
    scan = (m._hidden_first(x), m._hidden_first(y), v.T)  # [A, B, H, L], v [A, H]
    for args, forward_split, forward_tanh, backward_split, backward_tanh, to_rows in (
        (rows, m._rows_forward_split, m._rows_forward_tanh, m._rows_backward_split, m._rows_backward_tanh, lambda t: t),
        (scan, m._scan_forward_split, m._scan_forward_tanh, m._scan_backward_split, m._scan_backward_tanh,
         lambda t: t.T if t.ndim == 2 else t.transpose(1, 2, 3, 0)),
    ):
        np.testing.assert_allclose(forward_split(*args), forward_tanh(*args), atol=1e-5)
        np.testing.assert_allclose(forward_split(*args), m._rows_forward_tanh(*rows), atol=1e-5)
        for split, plain, want in zip(backward_split(*args, g), backward_tanh(*args, g), m._rows_backward_tanh(*rows, g)):
            np.testing.assert_allclose(split, plain, atol=1e-5, rtol=1e-5)
            np.testing.assert_allclose(to_rows(split), want, atol=1e-5, rtol=1e-5)  # the orders agree


@pytest.mark.parametrize(
    "x_shape, y_shape, scans",
    [
        ((64, 32, 1, 64), (64, 32, 1, 64), True),  # the default grid's self-attention: 65,536 pairs
        ((1, 512, 8, 64), (1, 256, 8, 64), True),  # a chunked block
        ((64, 1, 1, 128), (64, 50, 1, 128), False),  # one query (attention pooling, a decoder step)
        ((1, 1, 1, 64), (1, 2**16, 1, 64), False),  # one query, however many keys
        ((2, 8, 4, 16), (2, 64, 4, 16), False),  # 4,096 pairs: under SCAN_MIN_PAIRS
    ],
)
def test_the_loop_order_follows_the_documented_rule(x_shape, y_shape, scans):
    assert tanh_sum_module.scans_hidden_axis(x_shape, y_shape) is scans


def test_the_scan_order_runs_at_full_size():
    # Past SCAN_MIN_PAIRS without the fixture: the order a real self-attention call takes.
    x, y, v = _inputs(seed=6, b=4, lq=96, lk=96, h=1, a=8)
    assert tanh_sum_module.scans_hidden_axis(x.shape, y.shape)
    np.testing.assert_allclose(tanh_sum(x, y, v), _formula(x, y, v), atol=2e-6 * float(jnp.abs(v).sum(-1).max()))
    g = jax.random.normal(jax.random.key(7), (4, 1, 96, 96))
    _, vjp = jax.vjp(tanh_sum, x, y, v)
    _, vjp_ref = jax.vjp(_formula_jax, x, y, v)
    for got, want in zip(vjp(g), vjp_ref(g)):
        np.testing.assert_allclose(got, want, atol=5e-5, rtol=1e-4)


def test_jit_and_vmap(order):
    x, y, v = _inputs(seed=4)
    # jax.jit(tanh_sum) would reuse a trace of the other order (the jit cache does not see the
    # threshold the fixture lowers): a function of this order's own is traced afresh.
    np.testing.assert_allclose(jax.jit(functools.partial(tanh_sum, order=order))(x, y, v), tanh_sum(x, y, v), atol=1e-6)
    # Under vmap the branch choice is batched: both paths run and the result is selected.
    xs = jnp.stack([x, x.at[0, 0, 0, 0].set(30.0)])
    out = jax.vmap(tanh_sum, in_axes=(0, None, None))(xs, y, v)
    for i in range(2):
        np.testing.assert_allclose(out[i], _formula(xs[i], y, v), atol=1e-5)


def test_an_order_can_be_forced_and_a_wrong_one_is_refused():
    x, y, v = _inputs(seed=8, b=4, lq=96, lk=96, h=1, a=8)  # the rule picks scan here
    np.testing.assert_allclose(tanh_sum(x, y, v, order="rows"), tanh_sum(x, y, v, order="scan"), atol=1e-5)
    lowered = {order: jax.jit(functools.partial(tanh_sum, order=order)).lower(x, y, v).as_text() for order in ("rows", "scan")}
    assert "while" in lowered["scan"] and "while" not in lowered["rows"]  # the scan is a loop; rows is none
    with pytest.raises(ValueError, match=r"order='columns' is unknown; expected one of \['rows', 'scan'\]"):
        tanh_sum(x, y, v, order="columns")


def test_additive_score_and_its_form_use_the_kernel():
    score = ops.get_score("additive")
    q = jax.random.normal(jax.random.key(5), (2, 4, 2, 8))
    k = jax.random.normal(jax.random.key(6), (2, 6, 2, 8))
    params = score.init(jax.random.key(7), num_heads=2, head_dim=8, hidden_dim=5)
    form = score.as_additive(q, k, params)
    assert form.query.shape == (2, 4, 2, 5) and form.key.shape == (2, 6, 2, 5) and form.v.shape == (2, 5)
    p = jax.tree.map(lambda t: np.asarray(t, np.float64), params)
    np.testing.assert_allclose(form.query, np.einsum("bqhd,hda->bqha", q, p["query_kernel"]) + p["bias"], atol=1e-5)
    np.testing.assert_allclose(form.key, np.einsum("bkhd,hda->bkha", k, p["key_kernel"]), atol=1e-5)
    np.testing.assert_allclose(score(q, k, params), _formula(form.query, form.key, form.v), atol=1e-5)
    with pytest.raises(ValueError, match="'scaled_dot' has no additive form"):
        ops.get_score("scaled_dot").as_additive(q, k)


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((2, 5, 3, 6), (2, 7, 3, 4), (3, 6)), r"same B, H and A; got x \(2, 5, 3, 6\) and y \(2, 7, 3, 4\)"),
        (((2, 5, 3, 6), (2, 7, 3, 6), (3, 5)), r"v \[H, A\] = \(3, 6\); got \(3, 5\)"),
    ],
)
def test_bad_shapes_are_refused(shapes, message):
    x, y, v = (jnp.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=message):
        tanh_sum(x, y, v)
