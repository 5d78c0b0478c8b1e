"""The additive score's kernel: ``logits_ij = sum_a v_a tanh(x_ia + y_ja)``, with its own derivative.

Additive attention (Bahdanau et al. 2015) spends its time in ``B * H * Lq * Lk * A`` hyperbolic
tangents, one per (query, key, hidden unit). XLA's ``tanh`` is a rational approximation evaluated
per element; here the sum inside the tangent is split instead:

    tanh(x + y) = 1 - 2 r,   r = 1 / (1 + e^{2x} e^{2y})

so the exponentials are taken once per query row and once per key row (``O((Lq + Lk) A)``), and each
pair costs a multiply, an add and a reciprocal. The derivative comes from the same ``r``:
``d tanh / dx = 1 - tanh^2 = 4 r (1 - r)``, so the backward pass forms no tangent either.

Two loop orders, chosen per call by its static shapes (:func:`scans_hidden_axis`), the same
arithmetic up to the order of the float32 sum over ``a``:

- **scan** (calls of at least :data:`SCAN_MIN_PAIRS` (query, key) pairs and more than one query:
  self-attention, the blocks of ``chunked_attention``): a ``lax.scan`` over the hidden units whose
  step forms one ``[B, H, Lq, Lk]`` tile from ``x[:, :, :, a]`` and ``y[:, :, :, a]`` and adds it into
  the logits (backward: reduces it into the gradients of ``x[a]``, ``y[a]``, ``v[a]``). The tile's
  minor axis is the key, so each step is elementwise work on contiguous rows, which XLA CPU
  vectorises, and nothing ``A`` times the logits' size is ever formed.
- **rows** (smaller calls, and one query, as in attention pooling and a decoder's step): the whole
  ``[B, H, Lq, Lk, A]`` product with the sum over its minor axis ``A``, fused by XLA into one pass;
  a scan's per-step cost would dominate such small tiles.

What each order costs where (``python experiments/benchmarks/additive_order_bench.py``, 2026-12-07,
a 2-core AMD EPYC, 2048^3 matmul 144 GFLOP/s; rows / scan time, above 1: the scan is faster,
forward and forward+backward): the default grid's sentiment self-attention (``B=64, L=32, H=1,
A=64``) 2.2x and 2.0x; a 512 x 512 block with 8 heads 2.3x and 5.0x; at 2^15 pairs 1.8x and 1.0x;
below it (8,192 pairs) 0.7x and 0.8x; one query (attention pooling, ``B=64, Lk=50, A=128``) 0.5x
and 0.6x: hence the rule.

When is the split exact? ``e^{2x} e^{2y}`` stays a normal float32 (no overflow, no underflow to 0)
while ``|x|, |y| <= SPLIT_LIMIT`` (20: the product lies within ``[e^-80, e^80]``), and there its
rounding error is a few ulps of the product, which moves ``tanh`` by about 1e-7 absolute, the size
of the rounding in ``jnp.tanh`` itself. Larger inputs (a saturated tanh layer, far from anything a
trained additive attention uses) take the plain ``jnp.tanh`` formula: the choice is made per call on
the largest ``|x|`` and ``|y|`` (``lax.cond``, so one branch runs; under ``vmap`` both run and the
result is selected), so the results never depend on which path ran beyond float32 rounding.

(Tried and dropped: returning ``r`` from the forward pass for the backward to reuse. The forward's
``r`` then leaves the ``lax.cond`` as an array instead of fusing with its sum, and chunked additive
ran slower: 2-3x forward, about 1.4x forward and backward at 1x2048. A sum over a leading ``A``
axis of the whole ``[A, B, H, Lq, Lk]`` product, instead of the scan: about 100x slower forward.)

Memory: the rows order forms ``[B, H, Lq, Lk, A]`` whole, the scan a few ``[B, H, Lq, Lk]`` tiles
(:data:`SCAN_PAIR_WIDTH` floats a pair). XLA's compile-time memory analysis
(``compiled.memory_analysis()``) does not count either, because they live inside the ``lax.cond``
branches.

Shapes: ``x [B, Lq, H, A]``, ``y [B, Lk, H, A]`` (the layout of queries and keys, so the chunked
attention slices them as it slices q and k), ``v [H, A]``; logits float32 ``[B, H, Lq, Lk]``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
_F32 = jnp.float32

# |x| and |y| up to this keep e^{2x} e^{2y} within float32's normal range (see the module docstring).
SPLIT_LIMIT = 20.0
# The scan order from this many (query, key) pairs per call: below it (measured at A = 64 and 256),
# neither order was ahead in both passes.
SCAN_MIN_PAIRS = 2**15
# Floats a (query, key) pair occupies in the scan's backward step (its tiles r, the slope, g times
# it, and g): what chunked_attention sizes its blocks by.
SCAN_PAIR_WIDTH = 4


def scans_hidden_axis(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> bool:
    """Whether :func:`tanh_sum` of ``x [B, Lq, H, A]``, ``y [B, Lk, H, A]`` takes the scan order."""
    b, q_len, heads, _ = x_shape
    return q_len > 1 and b * heads * q_len * y_shape[1] >= SCAN_MIN_PAIRS


def _splits(x: Array, y: Array) -> Array:
    """True when every ``|x|`` and ``|y|`` is within :data:`SPLIT_LIMIT` (the split form is exact)."""
    return jnp.maximum(jnp.max(jnp.abs(x)), jnp.max(jnp.abs(y))) <= SPLIT_LIMIT


def _one_over_one_plus(ex: Array, ey: Array) -> Array:
    """``r = (1 - tanh(x + y)) / 2 = 1 / (1 + e^{2x} e^{2y})`` from broadcastable ``e^{2x}``, ``e^{2y}``."""
    return 1.0 / (1.0 + ex * ey)


def _kernel(forward_split, forward_tanh, backward_split, backward_tanh) -> Callable:
    """One loop order as a differentiable ``(x, y, v) -> logits``: each pass takes the split form
    when it is exact, the tangent otherwise."""

    @jax.custom_vjp
    def kernel(x, y, v):
        return lax.cond(_splits(x, y), forward_split, forward_tanh, x, y, v)

    def forward(x, y, v):
        return kernel(x, y, v), (x, y, v)

    def backward(residuals, g):
        x, y, v = residuals
        return lax.cond(_splits(x, y), backward_split, backward_tanh, x, y, v, g.astype(_F32))

    kernel.defvjp(forward, backward)
    return kernel


# --- rows: x [B, H, Lq, A], y [B, H, Lk, A], v [H, A]; pairs [B, H, Lq, Lk, A] ------------------
# Each pairwise product is written as multiply-then-sum, not einsum: an einsum becomes a matmul
# whose operand [B, H, Lq, Lk, A] XLA then stores in memory, where a sum fuses with the elementwise
# work that produces it.


def _heads_first(x: Array) -> Array:
    """``[B, L, H, A] -> [B, H, L, A]`` in float32: the hidden axis last, where the rows reduce."""
    return x.astype(_F32).transpose(0, 2, 1, 3)


def _row_pairs(x: Array, y: Array) -> tuple[Array, Array]:
    return x[:, :, :, None, :], y[:, :, None, :, :]


def _v_rows(v: Array) -> Array:
    return v[None, :, None, None, :]


def _rows_forward_split(x, y, v):
    r = _one_over_one_plus(*_row_pairs(jnp.exp(2.0 * x), jnp.exp(2.0 * y)))
    return jnp.sum(v, axis=-1)[None, :, None, None] - 2.0 * jnp.sum(r * _v_rows(v), axis=-1)


def _rows_forward_tanh(x, y, v):
    return jnp.sum(jnp.tanh(jnp.add(*_row_pairs(x, y))) * _v_rows(v), axis=-1)


# The two backward passes share their shape but not their expressions: the split one sums g * r
# for dv where the tanh one sums g * t, since forming t = 1 - 2 r as one more [B, H, Lq, Lk, A]
# array made chunked additive forward+backward about 1.4x slower at 1x2048.


def _rows_backward_split(x, y, v, g):
    r = _one_over_one_plus(*_row_pairs(jnp.exp(2.0 * x), jnp.exp(2.0 * y)))
    w = g[..., None] * (4.0 * r * (1.0 - r))  # g * d tanh / d(x + y)
    dx = jnp.sum(w, axis=3) * v[None, :, None, :]
    dy = jnp.sum(w, axis=2) * v[None, :, None, :]
    dv = jnp.sum(g, axis=(0, 2, 3))[:, None] - 2.0 * jnp.sum(g[..., None] * r, axis=(0, 2, 3))
    return dx, dy, dv


def _rows_backward_tanh(x, y, v, g):
    t = jnp.tanh(jnp.add(*_row_pairs(x, y)))
    w = g[..., None] * (1.0 - t * t)
    dx = jnp.sum(w, axis=3) * v[None, :, None, :]
    dy = jnp.sum(w, axis=2) * v[None, :, None, :]
    dv = jnp.sum(g[..., None] * t, axis=(0, 2, 3))
    return dx, dy, dv


_rows = _kernel(_rows_forward_split, _rows_forward_tanh, _rows_backward_split, _rows_backward_tanh)


# --- scan: x [A, B, H, Lq], y [A, B, H, Lk], v [A, H]; one [B, H, Lq, Lk] tile a step -----------


def _hidden_first(x: Array) -> Array:
    """``[B, L, H, A] -> [A, B, H, L]`` in float32: the hidden axis leads, for the scan over it."""
    return x.astype(_F32).transpose(3, 0, 2, 1)


def _tile_pairs(xa: Array, ya: Array) -> tuple[Array, Array]:
    """``xa [B, H, Lq]``, ``ya [B, H, Lk]`` -> ``[B, H, Lq, 1]``, ``[B, H, 1, Lk]``."""
    return xa[..., :, None], ya[..., None, :]


def _scan_logits(x, y, v, term):
    """``sum_a v[a] term(x[a], y[a])``."""

    def step(logits, xs):
        xa, ya, va = xs
        return logits + va[None, :, None, None] * term(xa, ya), None

    logits = jnp.zeros(x.shape[1:] + y.shape[-1:], _F32)
    return lax.scan(step, logits, (x, y, v))[0]


def _scan_forward_split(x, y, v):
    # sum_a v_a tanh = sum_a v_a - 2 sum_a v_a r
    r_term = lambda ea, fa: _one_over_one_plus(*_tile_pairs(ea, fa))  # noqa: E731
    return jnp.sum(v, axis=0)[None, :, None, None] - 2.0 * _scan_logits(jnp.exp(2.0 * x), jnp.exp(2.0 * y), v, r_term)


def _scan_forward_tanh(x, y, v):
    return _scan_logits(x, y, v, lambda xa, ya: jnp.tanh(jnp.add(*_tile_pairs(xa, ya))))


def _scan_grads(x, y, v, g, slope_and_part):
    """``dx [A, B, H, Lq]``, ``dy [A, B, H, Lk]`` and ``sum g * part`` ``[A, H]``, where
    ``slope_and_part(xa, ya)`` gives a tile's ``d tanh / d(x + y)`` and the part ``dv[a]`` sums."""

    def step(_, xs):
        xa, ya, va = xs
        slope, part = slope_and_part(xa, ya)
        w = g * slope
        dxa = jnp.sum(w, axis=3) * va[None, :, None]
        dya = jnp.sum(w, axis=2) * va[None, :, None]
        return None, (dxa, dya, jnp.sum(g * part, axis=(0, 2, 3)))

    return lax.scan(step, None, (x, y, v))[1]


def _scan_backward_split(x, y, v, g):
    def slope_and_r(ea, fa):
        r = _one_over_one_plus(*_tile_pairs(ea, fa))
        return 4.0 * r * (1.0 - r), r  # d tanh / d(x + y) = 1 - tanh^2 = 4 r (1 - r)

    dx, dy, g_r = _scan_grads(jnp.exp(2.0 * x), jnp.exp(2.0 * y), v, g, slope_and_r)
    return dx, dy, jnp.sum(g, axis=(0, 2, 3))[None, :] - 2.0 * g_r


def _scan_backward_tanh(x, y, v, g):
    def slope_and_t(xa, ya):
        t = jnp.tanh(jnp.add(*_tile_pairs(xa, ya)))
        return 1.0 - t * t, t

    return _scan_grads(x, y, v, g, slope_and_t)


_scan = _kernel(_scan_forward_split, _scan_forward_tanh, _scan_backward_split, _scan_backward_tanh)


class _Order(NamedTuple):
    """A loop order: its kernel and the layouts it takes x / y (``[B, L, H, A]``) and v (``[H, A]``) in."""

    kernel: Callable
    layout: Callable[[Array], Array]
    v_layout: Callable[[Array], Array]


ORDERS = {
    "rows": _Order(_rows, _heads_first, lambda v: v),
    "scan": _Order(_scan, _hidden_first, lambda v: v.T),
}


def tanh_sum(x: Array, y: Array, v: Array, order: Optional[str] = None) -> Array:
    """``sum_a v[h, a] tanh(x[b, i, h, a] + y[b, j, h, a])``: float32 ``[B, H, Lq, Lk]``.

    Args:
      x: ``[B, Lq, H, A]`` (the additive score's ``W q + b``).
      y: ``[B, Lk, H, A]`` (its ``U k``).
      v: ``[H, A]``.
      order: ``"rows"`` or ``"scan"`` (:data:`ORDERS`) to force a loop order; None: the one
        :func:`scans_hidden_axis` picks for these shapes.
    """
    if x.ndim != 4 or y.ndim != 4 or x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
        raise ValueError(
            f"tanh_sum takes x [B, Lq, H, A] and y [B, Lk, H, A] with the same B, H and A; got x "
            f"{x.shape} and y {y.shape}"
        )
    if v.shape != x.shape[2:]:
        raise ValueError(f"tanh_sum takes v [H, A] = {x.shape[2:]}; got {v.shape}")
    if order is None:
        order = "scan" if scans_hidden_axis(x.shape, y.shape) else "rows"
    if order not in ORDERS:
        raise ValueError(f"tanh_sum order={order!r} is unknown; expected one of {sorted(ORDERS)} or None (by shape)")
    kernel, layout, v_layout = ORDERS[order]
    return kernel(layout(x), layout(y), v_layout(v.astype(_F32)))
