"""Which kernel runs an attention call: attnjax's own XLA code or a fused flash-attention kernel.

Every score with a dot-product form (``Score.as_dot``: all but additive) can run in a fused
dot-product kernel. The backends, by ``implementation`` name (the ``jax.nn.dot_product_attention``
convention):

==========  ========  ======================================================================
name        platform  kernel
==========  ========  ======================================================================
``cudnn``   gpu       ``jax.nn.dot_product_attention(implementation="cudnn")``: cuDNN flash
                      attention
``pallas``  tpu       ``jax.experimental.pallas.ops.tpu.flash_attention``: the Pallas TPU
                      flash-attention kernel that ships with jax
``xla``     any       attnjax's own code (the plain or the chunked attention that was called)
==========  ========  ======================================================================

The fallback rule. ``implementation=None`` tries the fused backend of the platform the call runs on,
and takes ``xla`` when that backend's ``supports`` gives a reason (:func:`choose_backend` returns the
choice with the reasons; ``attention`` logs them at DEBUG level). A fused backend needs all of:

- a score with a dot-product form (additive has none);
- no attention weights asked for (``return_weights``, ``sow_weights``): fused kernels never form them;
- no dropout on the weights (neither kernel draws it);
- ``cudnn``: compute dtype float16 or bfloat16; head dim (after the folds below) at most 128, or 256
  on compute capability 9.0 and later; even lengths when a bias or a mask is given (its backward);
- ``pallas``: compute dtype float32 or bfloat16; query and key lengths multiples of 128 (its tiles).

An explicit ``implementation="cudnn"`` or ``"pallas"`` that is not supported raises a ValueError with
the reason; ``"xla"`` always runs.

What the fused paths do so that results equal the ``xla`` path: a per-key bias (gaussian's) is folded
into the dot product as one more head-dim column (``q'`` gets 1, ``k'`` gets the bias), and q', k', v
are zero-padded to a common head dim the kernel takes (the output is sliced back); masks and ``-inf``
biases become one boolean mask, so the kernel sees a finite bias; a query row left with no key gives
zeros (the kernels would average over the masked keys). Masks and biases are broadcast to the full
``[.., Lq, Lk]`` block the kernels take (cuDNN; Pallas except for a key padding mask ``[B|1, 1, 1, Lk]``,
which becomes segment ids). The fused kernels take no ``precision`` argument, and Pallas's kernel has
no second derivative.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.ops.masks import causal_mask, combine_masks
from attnjax.ops.scores import DotForm, Params, Score
from attnjax.registry import Registry

Array = jax.Array
logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AttentionCall:
    """One attention call after :func:`attnjax.ops.inputs.prepare_inputs`: what a backend decides on
    and runs.

    Attributes:
      score_name: for messages.
      dot: the score's dot form (``query' [B, Lq, H, E]``, ``key' [B, Lk, H, E]``, key bias), or
        None for a score without one.
      q_len: ``Lq``.
      value: ``[B, Lk, H, Dv]`` in the compute dtype.
      bias: float32 ``[B|1, H|1, Lq|1, Lk|1]`` or None.
      mask: bool ``[B|1, H|1, Lq|1, Lk|1]`` or None.
      is_causal, dropout, needs_weights: as the attention call asked.
    """

    score_name: str
    dot: Optional[DotForm]
    q_len: int
    value: Array
    bias: Optional[Array] = None
    mask: Optional[Array] = None
    is_causal: bool = False
    dropout: bool = False
    needs_weights: bool = False

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def lengths(self) -> tuple[int, int]:
        return self.q_len, self.value.shape[1]


def describe_call(score: Score, query: Array, key: Array, value: Array, params: Params,
                  bias: Optional[Array], mask: Optional[Array], *, is_causal: bool, dropout: bool,
                  needs_weights: bool, precision=None) -> AttentionCall:
    """The :class:`AttentionCall` for inputs from ``prepare_inputs`` (this forms the dot form)."""
    dot = score.as_dot(query, key, params, precision) if score.has_dot_form else None
    return AttentionCall(score.name, dot, query.shape[1], value, bias, mask, is_causal, dropout, needs_weights)


Check = Callable[[AttentionCall, str], Optional[str]]  # (call, platform) -> reason, or None if fine


@dataclasses.dataclass(frozen=True)
class Backend:
    """An attention implementation.

    Attributes:
      name: its ``implementation`` name.
      platforms: the platforms on which ``implementation=None`` tries it (``"*"``: every platform).
      checks: each ``check(call, platform)`` returns why the backend cannot run ``call``, or None.
      run: ``run(call) -> out [B, Lq, H, Dv]``; None for ``xla``, which is the caller's own code.
    """

    name: str
    platforms: tuple[str, ...]
    checks: tuple[Check, ...]
    run: Optional[Callable[[AttentionCall], Array]] = None

    def tried_on(self, platform: str) -> bool:
        return "*" in self.platforms or platform in self.platforms

    def supports(self, call: AttentionCall, platform: str) -> Optional[str]:
        """None when this backend can run ``call`` on ``platform``, else the first reason it cannot."""
        for check in self.checks:
            reason = check(call, platform)
            if reason is not None:
                return reason
        return None


@dataclasses.dataclass(frozen=True)
class BackendChoice:
    """The backend that runs a call, and why each one tried before it was skipped."""

    backend: Backend
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def fused(self) -> bool:
        return self.backend.run is not None

    def explain(self) -> str:
        skipped = "; ".join(f"not {name}: {reason}" for name, reason in self.skipped)
        return self.name + (f" ({skipped})" if skipped else "")


BACKENDS: Registry[Backend] = Registry("attention implementation")
XLA = "xla"


def current_platform() -> str:
    """The platform jax computes on (``cpu``, ``gpu``, ``tpu``): the one attention dispatches for."""
    return jax.default_backend()


def choose_backend(
    call: AttentionCall, implementation: Optional[str] = None, platform: Optional[str] = None
) -> BackendChoice:
    """The backend that runs ``call`` (see the module docstring for the rule).

    Args:
      implementation: None (choose), or a name in :data:`BACKENDS`; a named backend that cannot run
        ``call`` raises a ValueError that says why.
      platform: the platform to decide for (default: :func:`current_platform`).
    """
    platform = current_platform() if platform is None else platform
    if implementation is not None:
        backend = BACKENDS.get(implementation)
        reason = backend.supports(call, platform)
        if reason is not None:
            raise ValueError(
                f"implementation={implementation!r} cannot run this attention call: {reason}. Pass "
                f"implementation=None to fall back to the best one that can, or implementation='xla'"
            )
        return BackendChoice(backend)
    skipped = []
    for name in BACKENDS:
        backend = BACKENDS.get(name)
        if not backend.tried_on(platform):
            continue
        reason = backend.supports(call, platform)
        if reason is None:
            choice = BackendChoice(backend, tuple(skipped))
            if skipped:
                logger.debug("attention with score %r runs on %s", call.score_name, choice.explain())
            return choice
        skipped.append((name, reason))
    raise AssertionError(f"the {XLA!r} backend runs every call, yet none was chosen: {skipped}")


# --- checks -------------------------------------------------------------------------------------


def _on(platform_name: str, kernel: str) -> Check:
    def check(call, platform):
        if platform != platform_name:
            return f"{kernel} runs on {platform_name.upper()} only, and this is platform {platform!r}"
        return None

    return check


def _has_dot_form(call, platform):
    if call.dot is None:
        return f"score {call.score_name!r} has no dot-product form"
    return None


def _nonempty(call, platform):
    if 0 in call.lengths:
        return f"a length is zero (Lq={call.lengths[0]}, Lk={call.lengths[1]})"
    return None


def _no_weights(call, platform):
    if call.needs_weights:
        return "the attention weights are asked for (return_weights or sow_weights), which fused kernels never form"
    return None


def _no_dropout(call, platform):
    if call.dropout:
        return "dropout on the attention weights is active, which fused kernels do not draw"
    return None


def _dtype_in(*names: str) -> Check:
    def check(call, platform):
        if jnp.dtype(call.dtype).name not in names:
            return (f"the compute dtype is {jnp.dtype(call.dtype).name}, and the kernel takes "
                    f"{' or '.join(names)} (pass dtype=...)")
        return None

    return check


_FUSED_COMMON = (_has_dot_form, _nonempty, _no_weights, _no_dropout)


# --- what every fused path shares ----------------------------------------------------------------


def _folded_head_dim(call: AttentionCall) -> int:
    """The head dim q' and k' have once a key bias is folded in as one more column."""
    return call.dot.query.shape[-1] + (call.dot.key_bias is not None)


def _fused_qkv(call: AttentionCall, head_dim: int):
    """q', k' (key bias folded in) and v, zero-padded to ``head_dim`` and cast to the compute dtype."""
    q, k, key_bias = call.dot
    if key_bias is not None:  # q'.k' + b_k = [q', 1] . [k', b_k]
        q = jnp.concatenate([q.astype(jnp.float32), jnp.ones(q.shape[:-1] + (1,), jnp.float32)], -1)
        k = jnp.concatenate([k.astype(jnp.float32), jnp.transpose(key_bias[:, :, 0, :], (0, 2, 1))[..., None]], -1)

    def pad(x):
        return jnp.pad(x, [(0, 0)] * 3 + [(0, head_dim - x.shape[-1])]).astype(call.dtype)

    return pad(q), pad(k), pad(call.value)


def _valid_and_finite_bias(call: AttentionCall):
    """One boolean mask (the mask, and where the bias is finite) and the bias with 0 elsewhere."""
    mask, bias = call.mask, call.bias
    if bias is not None:
        finite = jnp.isfinite(bias)
        mask = combine_masks(mask, finite)
        bias = jnp.where(finite, bias, 0.0)
    return mask, bias


def _zero_empty_rows(out: Array, call: AttentionCall, mask: Optional[Array]) -> Array:
    """Zeros for query rows with no key to attend (``out [B, Lq, H, Dv]``), as the xla path gives."""
    if mask is None:  # causal alone leaves every row its first key
        return out
    if call.is_causal:
        mask = combine_masks(mask, causal_mask(*call.lengths))
    nonempty = jnp.any(mask, axis=-1, keepdims=True)  # [B|1, H|1, Lq|1, 1]
    return jnp.where(jnp.transpose(nonempty, (0, 2, 1, 3)), out, jnp.zeros((), out.dtype))


def _full_length(x: Optional[Array], call: AttentionCall) -> Optional[Array]:
    """``x`` broadcast to the full ``[.., Lq, Lk]`` length dims (batch and head dims stay)."""
    if x is None:
        return None
    return jnp.broadcast_to(x, x.shape[:2] + call.lengths)


# --- cuDNN (GPU) ---------------------------------------------------------------------------------


def _cudnn_max_head_dim() -> int:
    # cuDNN flash attention takes head dims up to 256 from Hopper (compute capability 9.0) on.
    capability = getattr(jax.devices()[0], "compute_capability", "0.0")
    return 256 if float(capability) >= 9.0 else 128


def _cudnn_head_dim(call: AttentionCall) -> int:
    width = max(_folded_head_dim(call), call.value.shape[-1])
    return -(-width // 8) * 8  # cuDNN: a multiple of 8


def _cudnn_head_dim_fits(call, platform):
    head_dim, limit = _cudnn_head_dim(call), _cudnn_max_head_dim()
    if head_dim > limit:
        return f"the head dim is {head_dim} after padding, and cuDNN takes at most {limit} on this GPU"
    return None


def _cudnn_even_lengths_with_bias(call, platform):
    q_len, k_len = call.lengths
    has_bias = call.bias is not None or call.mask is not None
    if has_bias and (q_len % 2 or k_len % 2):
        return f"a bias or mask is given and the lengths (Lq={q_len}, Lk={k_len}) are not even, which cuDNN's backward needs"
    return None


def run_jax_nn(call: AttentionCall, implementation: str = "cudnn") -> Array:
    """``call`` through ``jax.nn.dot_product_attention(implementation=...)`` (the cudnn backend; with
    ``"xla"`` the same inputs run anywhere, which is how the mapping is tested on a CPU)."""
    q, k, v = _fused_qkv(call, _cudnn_head_dim(call))
    mask, bias = _valid_and_finite_bias(call)
    out = jax.nn.dot_product_attention(
        q, k, v,
        bias=None if bias is None else _full_length(bias, call).astype(call.dtype),
        mask=_full_length(mask, call),
        scale=1.0, is_causal=call.is_causal, implementation=implementation,
    )
    return _zero_empty_rows(out[..., : call.value.shape[-1]], call, mask)


# --- Pallas TPU flash attention ---------------------------------------------------------------------

PALLAS_BLOCK = 128  # the kernel's default (and smallest key) tile


def _pallas_head_dim(call: AttentionCall) -> int:
    width = max(_folded_head_dim(call), call.value.shape[-1])
    # The kernel takes a head dim below 128 as it is, a larger one only in multiples of 128.
    return width if width <= 128 else -(-width // 128) * 128


def _pallas_lengths_tile(call, platform):
    q_len, k_len = call.lengths
    if q_len % PALLAS_BLOCK or k_len % PALLAS_BLOCK:
        return f"the lengths (Lq={q_len}, Lk={k_len}) are not multiples of {PALLAS_BLOCK}, the kernel's tile"
    return None


def _is_key_padding(mask: Array) -> bool:
    return mask.shape[1] == 1 and mask.shape[2] == 1


def run_pallas_flash(call: AttentionCall) -> Array:
    """``call`` through the Pallas TPU flash-attention kernel (layout ``[B, H, L, D]``)."""
    # Imported here: the module is jax's TPU kernel library, needed only when this backend runs.
    from jax.experimental.pallas.ops.tpu import flash_attention as tpu_flash

    q, k, v = (jnp.transpose(x, (0, 2, 1, 3)) for x in _fused_qkv(call, _pallas_head_dim(call)))
    b, heads, q_len, _ = q.shape
    k_len = k.shape[2]
    mask, bias = _valid_and_finite_bias(call)
    segment_ids = None
    if mask is not None and bias is None and _is_key_padding(mask):
        # Queries (segment 1) attend keys of their own segment: the valid ones.
        kv_segments = jnp.broadcast_to(mask[:, 0, 0, :], (b, k_len)).astype(jnp.int32)
        segment_ids = tpu_flash.SegmentIds(q=jnp.ones((b, q_len), jnp.int32), kv=kv_segments)
        ab = None
    elif mask is not None or bias is not None:
        ab = jnp.zeros((), jnp.float32) if bias is None else bias
        if mask is not None:
            ab = jnp.where(mask, ab, tpu_flash.DEFAULT_MASK_VALUE)
        ab = jnp.broadcast_to(ab, (b, heads, q_len, k_len))
    else:
        ab = None
    out = tpu_flash.flash_attention(q, k, v, ab=ab, segment_ids=segment_ids, causal=call.is_causal, sm_scale=1.0)
    out = jnp.transpose(out, (0, 2, 1, 3))[..., : call.value.shape[-1]]
    return _zero_empty_rows(out, call, mask)


for _backend in (
    Backend("cudnn", ("gpu",), (_on("gpu", "cuDNN flash attention"), *_FUSED_COMMON,
                                _dtype_in("float16", "bfloat16"), _cudnn_head_dim_fits,
                                _cudnn_even_lengths_with_bias),
            functools.partial(run_jax_nn, implementation="cudnn")),
    Backend("pallas", ("tpu",), (_on("tpu", "the Pallas TPU flash-attention kernel"), *_FUSED_COMMON,
                                 _dtype_in("float32", "bfloat16"), _pallas_lengths_tile),
            run_pallas_flash),
    Backend(XLA, ("*",), ()),  # last: it runs everything
):
    BACKENDS.register(_backend.name, _backend)
del _backend
