"""The additive score's kernel: ``logits_ij = sum_a v_a tanh(x_ia + y_ja)``, with its own derivative.

Additive attention (Bahdanau et al. 2015) spends its time in ``B * H * Lq * Lk * A`` hyperbolic
tangents, one per (query, key, hidden unit). XLA's ``tanh`` is a rational approximation evaluated
per element; here the sum inside the tangent is split instead:

    tanh(x + y) = 1 - 2 r,   r = 1 / (1 + e^{2x} e^{2y})

so the exponentials are taken once per query row and once per key row (``O((Lq + Lk) A)``), and each
pair costs a multiply, an add and a reciprocal. The derivative comes from the same ``r``:
``d tanh / dx = 1 - tanh^2 = 4 r (1 - r)``, so the backward pass forms no tangent either. README
"Attention benchmark" has what it gained on the 2-core CPU (chunked additive at 1x2048 went from
44x to 9.2x chunked ``scaled_dot``'s time forward, from 20.5x to 10.7x forward and backward) and
why the backward pass gained less.

When is it exact? ``e^{2x} e^{2y}`` stays a normal float32 (no overflow, no underflow to 0) while
``|x|, |y| <= SPLIT_LIMIT`` (20: the product lies within ``[e^-80, e^80]``), and there its rounding
error is a few ulps of the product, which moves ``tanh`` by about 1e-7 absolute, the size of the
rounding in ``jnp.tanh`` itself. Larger inputs (a saturated tanh layer, far from anything a trained
additive attention uses) take the plain ``jnp.tanh`` formula: the choice is made per call on the
largest ``|x|`` and ``|y|`` (``lax.cond``, so one branch runs; under ``vmap`` both run and the
result is selected), so the results never depend on which path ran beyond float32 rounding.

(Tried and dropped: returning ``r`` from the forward pass for the backward to reuse. The forward's
``r`` then leaves the ``lax.cond`` as an array instead of fusing with its sum, and chunked additive
ran slower: 2-3x forward, about 1.4x forward and backward at 1x2048.)

Memory: the pairwise intermediate ``[B, H, Lq, Lk, A]`` is formed whole (``chunked_attention`` forms
it a block at a time). XLA's compile-time memory analysis (``compiled.memory_analysis()``) does not
count it, because it lives inside the ``lax.cond`` branches: size long additive calls by it, not by
that analysis.

Shapes: ``x [B, Lq, H, A]``, ``y [B, Lk, H, A]`` (the layout of queries and keys, so the chunked
attention slices them as it slices q and k), ``v [H, A]``; logits float32 ``[B, H, Lq, Lk]``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
_F32 = jnp.float32

# |x| and |y| up to this keep e^{2x} e^{2y} within float32's normal range (see the module docstring).
SPLIT_LIMIT = 20.0


def _heads_first(x: Array) -> Array:
    """``[B, L, H, A] -> [B, H, L, A]`` in float32: the hidden axis last, where the pair loops reduce."""
    return x.astype(_F32).transpose(0, 2, 1, 3)


def _splits(x: Array, y: Array) -> Array:
    """True when every ``|x|`` and ``|y|`` is within :data:`SPLIT_LIMIT` (the split form is exact)."""
    return jnp.maximum(jnp.max(jnp.abs(x)), jnp.max(jnp.abs(y))) <= SPLIT_LIMIT


def _half_one_minus_tanh(x: Array, y: Array) -> Array:
    """``r = (1 - tanh(x_i + y_j)) / 2 = 1 / (1 + e^{2 x_i} e^{2 y_j})``: ``[B, H, Lq, Lk, A]``."""
    ex = jnp.exp(2.0 * x)[:, :, :, None, :]
    ey = jnp.exp(2.0 * y)[:, :, None, :, :]
    return 1.0 / (1.0 + ex * ey)


def _pair_tanh(x: Array, y: Array) -> Array:
    return jnp.tanh(x[:, :, :, None, :] + y[:, :, None, :, :])


def _v_pairs(v: Array) -> Array:
    return v[None, :, None, None, :]


# Each pairwise product is written as multiply-then-sum, not einsum: an einsum becomes a matmul
# whose operand [B, H, Lq, Lk, A] XLA then stores in memory, where a sum fuses with the elementwise
# work that produces it.


def _forward_split(x, y, v):
    r = _half_one_minus_tanh(x, y)
    return jnp.sum(v, axis=-1)[None, :, None, None] - 2.0 * jnp.sum(r * _v_pairs(v), axis=-1)


def _forward_tanh(x, y, v):
    return jnp.sum(_pair_tanh(x, y) * _v_pairs(v), axis=-1)


# The two backward passes share their shape but not their expressions: the split one sums g * r
# for dv where the tanh one sums g * t, since forming t = 1 - 2 r as one more [B, H, Lq, Lk, A]
# array made chunked additive forward+backward about 1.4x slower at 1x2048.


def _backward_split(x, y, v, g):
    r = _half_one_minus_tanh(x, y)
    w = g[..., None] * (4.0 * r * (1.0 - r))  # g * d tanh / d(x + y)
    dx = jnp.sum(w, axis=3) * v[None, :, None, :]
    dy = jnp.sum(w, axis=2) * v[None, :, None, :]
    dv = jnp.sum(g, axis=(0, 2, 3))[:, None] - 2.0 * jnp.sum(g[..., None] * r, axis=(0, 2, 3))
    return dx, dy, dv


def _backward_tanh(x, y, v, g):
    t = _pair_tanh(x, y)
    w = g[..., None] * (1.0 - t * t)
    dx = jnp.sum(w, axis=3) * v[None, :, None, :]
    dy = jnp.sum(w, axis=2) * v[None, :, None, :]
    dv = jnp.sum(g[..., None] * t, axis=(0, 2, 3))
    return dx, dy, dv


@jax.custom_vjp
def _tanh_sum_heads_first(x, y, v):
    return lax.cond(_splits(x, y), _forward_split, _forward_tanh, x, y, v)


def _tanh_sum_fwd(x, y, v):
    return _tanh_sum_heads_first(x, y, v), (x, y, v)


def _tanh_sum_bwd(residuals, g):
    x, y, v = residuals
    return lax.cond(_splits(x, y), _backward_split, _backward_tanh, x, y, v, g.astype(_F32))


_tanh_sum_heads_first.defvjp(_tanh_sum_fwd, _tanh_sum_bwd)


def tanh_sum(x: Array, y: Array, v: Array) -> Array:
    """``sum_a v[h, a] tanh(x[b, i, h, a] + y[b, j, h, a])``: float32 ``[B, H, Lq, Lk]``.

    Args:
      x: ``[B, Lq, H, A]`` (the additive score's ``W q + b``).
      y: ``[B, Lk, H, A]`` (its ``U k``).
      v: ``[H, A]``.
    """
    if x.ndim != 4 or y.ndim != 4 or x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
        raise ValueError(
            f"tanh_sum takes x [B, Lq, H, A] and y [B, Lk, H, A] with the same B, H and A; got x "
            f"{x.shape} and y {y.shape}"
        )
    if v.shape != x.shape[2:]:
        raise ValueError(f"tanh_sum takes v [H, A] = {x.shape[2:]}; got {v.shape}")
    return _tanh_sum_heads_first(_heads_first(x), _heads_first(y), v.astype(_F32))
