"""Positional encodings: sinusoidal and learned (added to embeddings), and rotary (applied to q/k).

The additive encodings take ``x [batch, length, features]`` and return ``x + P[positions]``. With
``decode=True`` they keep a position counter in the ``cache`` collection, so one token at a time
gets the right position during autoregressive decoding (as flax's WMT example does).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.registry import Registry

Array = jax.Array


def sinusoidal_table(length: int, features: int, max_timescale: float = 10_000.0) -> Array:
    """``[length, features]`` table of Vaswani et al. (2017): sines in the first half, cosines after."""
    if length <= 0 or features <= 0:
        raise ValueError(f"length and features must be positive, got {length}, {features}")
    half = features // 2
    timescales = jnp.exp(-math.log(max_timescale) * jnp.arange(half) / max(half - 1, 1))
    angles = jnp.arange(length)[:, None] * timescales[None, :]
    table = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
    # Odd feature sizes get one zero column so the table always has `features` columns.
    return jnp.pad(table, ((0, 0), (0, features - 2 * half)))


def _add_positions(module: nn.Module, x: Array, table: Array, decode: bool) -> Array:
    """``x [batch, length, features] + table[positions]``; positions continue across decode calls."""
    length = x.shape[-2]
    if decode:
        is_initialized = module.has_variable("cache", "position")
        position = module.variable("cache", "position", lambda: jnp.array(0, jnp.int32))
        if is_initialized:
            # Decoding feeds one token per call: its position is the number of tokens before it.
            offset = position.value
            position.value = offset + length
            return x + jax.lax.dynamic_slice_in_dim(table, offset, length).astype(x.dtype)[None]
    if length > table.shape[0]:
        raise ValueError(f"sequence length {length} exceeds max_length={table.shape[0]}")
    return x + table[:length].astype(x.dtype)[None]


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sine/cosine encodings (no parameters): ``[batch, length, features]`` in and out."""

    max_length: int = 512
    decode: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return _add_positions(self, x, sinusoidal_table(self.max_length, x.shape[-1]), self.decode)


class LearnedPositionalEncoding(nn.Module):
    """A learned ``[max_length, features]`` table (parameter ``embedding``)."""

    max_length: int = 512
    decode: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        table = self.param("embedding", nn.initializers.normal(0.02), (self.max_length, x.shape[-1]))
        return _add_positions(self, x, table, self.decode)


def apply_rotary(x: Array, positions: Array, max_timescale: float = 10_000.0) -> Array:
    """Rotary position embedding (Su et al. 2021) of ``x [batch, length, heads, head_dim]``.

    ``positions [batch|1, length]``. Feature pairs ``(i, i + head_dim/2)`` are rotated by an angle
    proportional to the position, so ``q . k`` depends on positions only through their difference.
    """
    head_dim = x.shape[-1]
    if head_dim % 2:
        raise ValueError(f"rotary encoding needs an even head_dim, got {head_dim}")
    half = head_dim // 2
    freqs = jnp.exp(-math.log(max_timescale) * jnp.arange(half) / half)
    angles = positions[..., None].astype(jnp.float32) * freqs  # [B, L, half]
    sin, cos = jnp.sin(angles)[:, :, None, :], jnp.cos(angles)[:, :, None, :]
    x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
    rotated = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return rotated.astype(x.dtype)


class Positional(NamedTuple):
    """How a positional scheme enters a model: an additive module and/or rotary q/k."""

    additive: Optional[Callable[..., nn.Module]]
    rotary: bool


POSITIONAL: Registry[Positional] = Registry("positional")
POSITIONAL.register("sinusoidal", Positional(SinusoidalPositionalEncoding, rotary=False))
POSITIONAL.register("learned", Positional(LearnedPositionalEncoding, rotary=False))
POSITIONAL.register("rotary", Positional(None, rotary=True))
POSITIONAL.register("none", Positional(None, rotary=False))


def get_positional(name: str) -> Positional:
    """The positional scheme named ``name``; ValueError listing the known ones otherwise."""
    return POSITIONAL.get(name)
