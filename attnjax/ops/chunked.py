"""Memory-efficient attention for any score: chunks of queries and keys with an online softmax.

Rabe & Staats (2021), "Self-attention does not need O(n^2) memory", computed in the blocked
order of FlashAttention-2 (Dao, 2023). Keys are visited a chunk at a time with a running max and
running sum, so the ``[B, H, Lq, Lk]`` logits are never stored. The backward pass is a custom VJP
that keeps only the output and the per-row log-sum-exp and recomputes each block's logits; it
backpropagates into the score through ``jax.vjp`` of the score on that block, so every registered
score (and its parameters) works unchanged. Memory grows linearly in length, forward and backward.

A score with a dot-product form (``Score.as_dot``: every score but additive) transforms the queries
and keys once, outside the blocks, and the blocks run a plain dot product plus the per-key bias;
autodiff carries the gradients back through the transform into q, k and the score's parameters.
The additive score likewise projects once (``Score.as_additive``) and its blocks run
:func:`attnjax.ops.additive.tanh_sum`.

Shapes are those of :func:`attnjax.ops.attention`; the two give the same results (float32, 1e-5)
when dropout is off. With dropout the masks differ: here each block draws its own from
``fold_in(dropout_rng, block)``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
from jax import lax

from attnjax.ops.backends import choose_backend, describe_call
from attnjax.ops.inputs import check_dropout, prepare_inputs
from attnjax.ops.scores import Params, Score, check_params, dot_score, get_score
from attnjax.ops.additive import SCAN_PAIR_WIDTH, tanh_sum

Array = jax.Array
_F32 = jnp.float32

DEFAULT_QUERY_CHUNK = 1024
DEFAULT_KEY_CHUNK = 512
# Default blocks are halved until one block's [B, H, qc, kc, pair_width] intermediate holds at most
# this many floats (32 MiB in float32, about the L3 cache of the CPU we tune on): the backward pass
# streams several such tensors per block; the additive kernel's scan holds a few tiles per pair.
# Measured on a 2-core CPU at B=8, H=8, L=2048: 512x256 blocks ran forward+backward 1.7x faster than
# jax.nn.dot_product_attention, 512x512 blocks only 1.15x (attention_bench.py --chunk-sweep 8x2048).
MAX_BLOCK_ELEMENTS = 2**23
MIN_AUTO_CHUNK = 16

# What the blocks compute for a score given as a dot product: q' . k' (the key bias is a bias).
_DOT_PRODUCT = Score("dot-product form", dot_score, None, "q' . k'")


def _tanh_sum_score(x, y, v, precision=None):
    del precision  # no matmul inside: the projections ran before the blocks
    return tanh_sum(x, y, v)


# What the blocks compute for a score given in additive form: sum_a v_a tanh(x_ia + y_ja), with
# v as the parameters (its gradient is summed over blocks like any score parameter's).
_TANH_SUM = Score("additive form", _tanh_sum_score, None, "v . tanh(x + y)", pair_width=lambda v: SCAN_PAIR_WIDTH)


class _Plan(NamedTuple):
    """Everything static about one chunked call (hashable: a custom_vjp nondiff argument)."""

    score: Score
    precision: Any
    q_chunk: int
    k_chunk: int
    k_len: int  # before padding: keys at or past it are padding
    is_causal: bool
    keep_prob: float  # 1.0 when dropout is off
    broadcast_dropout: bool

    def num_key_blocks(self, qi: Array, num_blocks: int) -> Array:
        """How many key blocks query block ``qi`` needs (causal: none past the diagonal)."""
        if not self.is_causal:
            return num_blocks
        last_query = (qi + 1) * self.q_chunk  # exclusive
        return jnp.minimum((last_query + self.k_chunk - 1) // self.k_chunk, num_blocks)

    def first_query_block(self, kj: Array) -> Array:
        """The first query block that can see key block ``kj`` (causal), else 0."""
        if not self.is_causal:
            return 0
        return (kj * self.k_chunk) // self.q_chunk


def _pad_to(x: Array, axis: int, multiple: int, value) -> Array:
    size = x.shape[axis]
    extra = -size % multiple
    if extra == 0 or (size == 1 and axis >= 2):  # mask/bias dims of size 1 broadcast: keep them
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths, constant_values=value)


def _block(x: Optional[Array], plan: _Plan, qi, kj) -> Optional[Array]:
    """The ``[.., qc|1, kc|1]`` block of a mask or bias (dims of size 1 stay 1)."""
    if x is None:
        return None
    if x.shape[2] != 1:
        x = lax.dynamic_slice_in_dim(x, qi * plan.q_chunk, plan.q_chunk, axis=2)
    if x.shape[3] != 1:
        x = lax.dynamic_slice_in_dim(x, kj * plan.k_chunk, plan.k_chunk, axis=3)
    return x


def _block_valid(plan: _Plan, mask: Optional[Array], padded_k_len: int, qi, kj) -> Optional[Array]:
    """Bool block ``[B|1, H|1, qc|1, kc|1]``: True where query may attend key, or None if all may."""
    valid = _block(mask, plan, qi, kj)
    if plan.is_causal or padded_k_len != plan.k_len:
        k_idx = kj * plan.k_chunk + jnp.arange(plan.k_chunk)[None, :]
        positional = k_idx < plan.k_len
        if plan.is_causal:
            q_idx = qi * plan.q_chunk + jnp.arange(plan.q_chunk)[:, None]
            positional = positional & (k_idx <= q_idx)
        positional = positional[None, None]
        valid = positional if valid is None else valid & positional
    return valid


def _block_logits(plan, q_blk, k_blk, params, biases, qi, kj):
    s = plan.score.fn(q_blk, k_blk, params, precision=plan.precision)
    for bias in biases:
        s = s + _block(bias, plan, qi, kj)
    return s


def _dropout_scale(plan: _Plan, rng, qi, kj, shape) -> Optional[Array]:
    """``keep / keep_prob`` for one block of weights, or None without dropout."""
    if plan.keep_prob == 1.0:
        return None
    block_rng = jax.random.fold_in(jax.random.fold_in(rng, qi), kj)
    keep_shape = (1, 1) + tuple(shape[-2:]) if plan.broadcast_dropout else tuple(shape)
    keep = jax.random.bernoulli(block_rng, plan.keep_prob, keep_shape)
    return keep.astype(_F32) / plan.keep_prob


def _forward(plan: _Plan, q, k, v, params, biases, mask, rng):
    """Returns ``out [B, Lq, H, Dv]`` and the row log-sum-exp ``[B, H, Lq]`` (inf for empty rows)."""
    b, q_len, heads, _ = q.shape
    k_len, v_dim = k.shape[1], v.shape[-1]
    qc, kc = plan.q_chunk, plan.k_chunk
    num_k_blocks = k_len // kc

    def query_block(qi):
        q_blk = lax.dynamic_slice_in_dim(q, qi * qc, qc, axis=1)

        def key_step(kj, carry):
            row_max, row_sum, acc = carry
            k_blk = lax.dynamic_slice_in_dim(k, kj * kc, kc, axis=1)
            v_blk = lax.dynamic_slice_in_dim(v, kj * kc, kc, axis=1)
            s = _block_logits(plan, q_blk, k_blk, params, biases, qi, kj)
            valid = _block_valid(plan, mask, k_len, qi, kj)
            if valid is not None:
                s = jnp.where(valid, s, -jnp.inf)
            new_max = jnp.maximum(row_max, jnp.max(s, axis=-1))
            # A row with nothing valid yet keeps max -inf; shift it by 0 so exp gives 0, not NaN.
            safe_max = jnp.where(jnp.isfinite(new_max), new_max, 0.0)
            p = jnp.exp(s - safe_max[..., None])
            correction = jnp.exp(row_max - safe_max)
            row_sum = row_sum * correction + jnp.sum(p, axis=-1)
            scale = _dropout_scale(plan, rng, qi, kj, p.shape)
            if scale is not None:
                p = p * scale
            pv = jnp.einsum(
                "bhqk,bkhd->bhqd", p.astype(v.dtype), v_blk, precision=plan.precision,
                preferred_element_type=_F32,
            )
            return new_max, row_sum, acc * correction[..., None] + pv

        init = (
            jnp.full((b, heads, qc), -jnp.inf, _F32),
            jnp.zeros((b, heads, qc), _F32),
            jnp.zeros((b, heads, qc, v_dim), _F32),
        )
        row_max, row_sum, acc = lax.fori_loop(0, plan.num_key_blocks(qi, num_k_blocks), key_step, init)
        nonempty = row_sum > 0
        out = acc / jnp.where(nonempty, row_sum, 1.0)[..., None]
        lse = jnp.where(nonempty, row_max + jnp.log(jnp.where(nonempty, row_sum, 1.0)), jnp.inf)
        return out.transpose(0, 2, 1, 3).astype(v.dtype), lse

    outs, lses = lax.map(query_block, jnp.arange(q_len // qc))  # [nq, B, qc, H, Dv], [nq, B, H, qc]
    out = jnp.moveaxis(outs, 0, 1).reshape(b, q_len, heads, v_dim)
    lse = jnp.moveaxis(lses, 0, 2).reshape(b, heads, q_len)
    return out, lse


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _chunked_core(plan, q, k, v, params, biases, mask, rng):
    """``biases``: a tuple of arrays ``[B|1, H|1, Lq|1, Lk|1]`` added to the logits (each keeps its
    size-1 dims, so a per-key bias stays O(length))."""
    return _forward(plan, q, k, v, params, biases, mask, rng)[0]


def _core_fwd(plan, q, k, v, params, biases, mask, rng):
    out, lse = _forward(plan, q, k, v, params, biases, mask, rng)
    return out, (q, k, v, params, biases, mask, rng, out, lse)


def _accumulate_bias_grad(plan: _Plan, d_bias: Array, ds: Array, qi, kj) -> Array:
    """Adds a block's ``d logits`` into the bias gradient, summed over the bias's size-1 dims."""
    sum_axes = tuple(ax for ax in range(4) if d_bias.shape[ax] == 1 and ds.shape[ax] != 1)
    contribution = jnp.sum(ds, axis=sum_axes, keepdims=True)
    start = (
        0,
        0,
        qi * plan.q_chunk if d_bias.shape[2] != 1 else 0,
        kj * plan.k_chunk if d_bias.shape[3] != 1 else 0,
    )
    current = lax.dynamic_slice(d_bias, start, contribution.shape)
    return lax.dynamic_update_slice(d_bias, current + contribution, start)


def _core_bwd(plan: _Plan, residuals, d_out):
    q, k, v, params, biases, mask, rng, out, lse = residuals
    q_len, k_len = q.shape[1], k.shape[1]
    qc, kc = plan.q_chunk, plan.k_chunk
    num_q_blocks = q_len // qc
    # delta_i = sum_j P_ij dP_ij = dO_i . O_i (FlashAttention-2), also with dropout.
    delta = jnp.einsum("bqhd,bqhd->bhq", d_out.astype(_F32), out.astype(_F32))

    def score_fn(q_blk, k_blk, p):
        return plan.score.fn(q_blk, k_blk, p, precision=plan.precision)

    def key_block(kj, carry):
        d_q, d_k, d_v, d_params, d_biases = carry
        k_blk = lax.dynamic_slice_in_dim(k, kj * kc, kc, axis=1)
        v_blk = lax.dynamic_slice_in_dim(v, kj * kc, kc, axis=1)

        def query_step(qi, inner):
            d_q, d_k_blk, d_v_blk, d_params, d_biases = inner
            q_blk = lax.dynamic_slice_in_dim(q, qi * qc, qc, axis=1)
            do_blk = lax.dynamic_slice_in_dim(d_out, qi * qc, qc, axis=1)
            lse_blk = lax.dynamic_slice_in_dim(lse, qi * qc, qc, axis=2)
            delta_blk = lax.dynamic_slice_in_dim(delta, qi * qc, qc, axis=2)

            s, score_vjp = jax.vjp(score_fn, q_blk, k_blk, params)
            for bias in biases:
                s = s + _block(bias, plan, qi, kj)
            p = jnp.exp(s - lse_blk[..., None])
            valid = _block_valid(plan, mask, k_len, qi, kj)
            if valid is not None:
                p = jnp.where(valid, p, 0.0)
            dp = jnp.einsum(
                "bqhd,bkhd->bhqk", do_blk, v_blk, precision=plan.precision,
                preferred_element_type=_F32,
            )
            scale = _dropout_scale(plan, rng, qi, kj, p.shape)
            p_dropped = p if scale is None else p * scale
            if scale is not None:
                dp = dp * scale
            d_v_blk = d_v_blk + jnp.einsum(
                "bhqk,bqhd->bkhd", p_dropped.astype(do_blk.dtype), do_blk,
                precision=plan.precision, preferred_element_type=_F32,
            )
            ds = p * (dp - delta_blk[..., None])
            dq_blk, dk_blk, dparams_blk = score_vjp(ds)
            d_q = lax.dynamic_update_slice_in_dim(
                d_q, lax.dynamic_slice_in_dim(d_q, qi * qc, qc, axis=1) + dq_blk.astype(_F32),
                qi * qc, axis=1,
            )
            d_k_blk = d_k_blk + dk_blk.astype(_F32)
            if d_params is not None:
                d_params = jax.tree.map(jnp.add, d_params, dparams_blk)
            d_biases = tuple(_accumulate_bias_grad(plan, d, ds, qi, kj) for d in d_biases)
            return d_q, d_k_blk, d_v_blk, d_params, d_biases

        inner = (
            d_q,
            jnp.zeros(k_blk.shape, _F32),
            jnp.zeros(v_blk.shape, _F32),
            d_params,
            d_biases,
        )
        d_q, d_k_blk, d_v_blk, d_params, d_biases = lax.fori_loop(
            plan.first_query_block(kj), num_q_blocks, query_step, inner
        )
        d_k = lax.dynamic_update_slice_in_dim(d_k, d_k_blk, kj * kc, axis=1)
        d_v = lax.dynamic_update_slice_in_dim(d_v, d_v_blk, kj * kc, axis=1)
        return d_q, d_k, d_v, d_params, d_biases

    init = (
        jnp.zeros(q.shape, _F32),
        jnp.zeros(k.shape, _F32),
        jnp.zeros(v.shape, _F32),
        None if params is None else jax.tree.map(jnp.zeros_like, params),
        tuple(jnp.zeros(bias.shape, _F32) for bias in biases),
    )
    d_q, d_k, d_v, d_params, d_biases = lax.fori_loop(0, k_len // kc, key_block, init)
    return (
        d_q.astype(q.dtype),
        d_k.astype(k.dtype),
        d_v.astype(v.dtype),
        d_params,
        tuple(d.astype(bias.dtype) for d, bias in zip(d_biases, biases)),
        None,
        None,
    )


_chunked_core.defvjp(_core_fwd, _core_bwd)


def _check_chunk(name: str, size: Optional[int]) -> Optional[int]:
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ValueError(f"{name} must be a positive int or None, got {size!r}")
    return size


def choose_chunk_sizes(
    batch: int, heads: int, q_len: int, k_len: int, pair_width: int = 1,
    query_chunk_size: Optional[int] = None, key_chunk_size: Optional[int] = None,
) -> tuple[int, int]:
    """Block sizes for :func:`chunked_attention`: the ones given, else the defaults shrunk (keys
    first) until a block's intermediate fits ``MAX_BLOCK_ELEMENTS``; never longer than the inputs."""
    qc = query_chunk_size or DEFAULT_QUERY_CHUNK
    kc = key_chunk_size or DEFAULT_KEY_CHUNK
    qc, kc = min(qc, q_len), min(kc, k_len)
    while batch * heads * qc * kc * pair_width > MAX_BLOCK_ELEMENTS:
        if key_chunk_size is None and kc > MIN_AUTO_CHUNK and kc >= qc:
            kc //= 2
        elif query_chunk_size is None and qc > MIN_AUTO_CHUNK:
            qc //= 2
        elif key_chunk_size is None and kc > MIN_AUTO_CHUNK:
            kc //= 2
        else:
            break
    return qc, kc


def chunked_attention(
    query: Array,
    key: Array,
    value: Array,
    bias: Optional[Array] = None,
    mask: Optional[Array] = None,
    broadcast_dropout: bool = True,
    dropout_rng: Optional[Array] = None,
    dropout_rate: float = 0.0,
    deterministic: bool = False,
    dtype=None,
    precision=None,
    module=None,
    *,
    score: Union[str, Score] = "scaled_dot",
    score_params: Params = None,
    is_causal: bool = False,
    return_weights: bool = False,
    query_chunk_size: Optional[int] = None,
    key_chunk_size: Optional[int] = None,
    implementation: Optional[str] = None,
):
    """Same as :func:`attnjax.ops.attention`, in O(length) memory.

    Masks and biases keep their size-1 dims, so pass a key padding mask as ``[B, 1, 1, Lk]`` and use
    ``is_causal`` rather than a full ``[Lq, Lk]`` causal mask to stay linear in memory.

    Args:
      query_chunk_size, key_chunk_size: block sizes (clipped to the lengths; lengths that they do
        not divide are padded internally). None picks them with :func:`choose_chunk_sizes`
        (1024 x 512, halved while a block is too large for the batch and heads, and smaller for
        scores with wide intermediates such as additive). With
        ``is_causal`` blocks past the diagonal are skipped.
      implementation: as for :func:`attnjax.ops.attention`; the fused kernels are O(length) in
        memory too (and ignore the chunk sizes), "xla" is this chunked kernel.
      Other arguments: as :func:`attnjax.ops.attention`. The weights are never materialised, so
        ``return_weights=True`` and ``module`` (flax's ``sow_weights``) are rejected.
    """
    if return_weights or module is not None:
        raise ValueError(
            "chunked_attention never materialises the attention weights; use attnjax.ops.attention "
            "for return_weights=True or sow_weights"
        )
    score = get_score(score)
    check_params(score, score_params)
    dropout = check_dropout(dropout_rate, dropout_rng, deterministic)
    q, k, v, bias, mask = prepare_inputs(query, key, value, bias, mask, dtype)
    call = describe_call(score, q, k, v, score_params, bias, mask, is_causal=is_causal, dropout=dropout,
                         needs_weights=False, precision=precision)
    choice = choose_backend(call, implementation)
    if choice.fused:
        return choice.backend.run(call)
    biases = () if bias is None else (bias,)
    if call.dot is not None:
        q, k, key_bias = call.dot
        biases += () if key_bias is None else (key_bias,)
        score, score_params = _DOT_PRODUCT, None
    elif score.has_additive_form:
        # W q + b and U k once for the whole call, not once per block.
        q, k, score_params = score.as_additive(q, k, score_params, precision)
        score = _TANH_SUM
    b, q_len, heads, _ = q.shape
    k_len = k.shape[1]
    if q_len == 0 or k_len == 0:  # nothing to chunk: zeros, as attnjax.ops.attention gives
        return jnp.zeros((b, q_len, heads, v.shape[-1]), v.dtype)
    qc, kc = choose_chunk_sizes(
        b, heads, q_len, k_len, score.pair_width(score_params),
        _check_chunk("query_chunk_size", query_chunk_size), _check_chunk("key_chunk_size", key_chunk_size),
    )
    if isinstance(precision, list):
        precision = tuple(precision)  # nondiff arguments must be hashable
    plan = _Plan(
        score=score,
        precision=precision,
        q_chunk=qc,
        k_chunk=kc,
        k_len=k_len,
        is_causal=is_causal,
        keep_prob=1.0 - dropout_rate if dropout else 1.0,
        broadcast_dropout=broadcast_dropout,
    )
    q = _pad_to(q, 1, qc, 0)
    k = _pad_to(k, 1, kc, 0)
    v = _pad_to(v, 1, kc, 0)
    if mask is not None:
        mask = _pad_to(_pad_to(mask, 2, qc, False), 3, kc, False)
    biases = tuple(_pad_to(_pad_to(x, 2, qc, 0.0), 3, kc, 0.0) for x in biases)
    rng = dropout_rng if dropout else None
    out = _chunked_core(plan, q, k, v, score_params, biases, mask, rng)
    return out[:, :q_len]
