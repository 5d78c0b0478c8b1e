"""Where the chunked ``scaled_dot`` kernel's time goes: each pass against the machine's matmul peak.

For each shape, times in one interleaved run (as attention_bench.py does):
  - ``chunked scaled_dot``: :func:`attnjax.ops.chunked_attention`, the chunk sizes it picks itself;
  - ``products only``: the same loops over the same blocks doing only the kernel's matrix products
    (forward: ``q k^T`` and ``p v``; backward: ``q k^T`` again, ``dO v^T``, ``p^T dO``, ``ds k``,
    ``ds^T q``) and none of its elementwise work (max, exp, rescaling, ``p (dp - delta)``);
  - ``torch sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` (when torch is installed);
  - with ``--head-groups G ...``: ``chunked, G heads at a time``, the same kernel mapped over groups of
    G (batch, head) pairs in sequence (``lax.map``), so a block's working set is ``G qc kc`` floats
    instead of ``B H qc kc`` (chunk sizes chosen for that group, as chunked_attention does);
and the 2048^3 float32 matmul in JAX, before and after the contenders. Each pass is converted to
the FLOP rate of FlashAttention's count (forward ``4 B H L^2 D``, backward ``10 B H L^2 D``: five
products, the recomputed ``q k^T`` included) and to its fraction of that matmul rate.

What it answers: ``products only / chunked`` is the share of the kernel's time spent in its
products; the rest is the elementwise passes and the loop's bookkeeping. Torch's fraction of the
peak beside ours says how far a fused CPU kernel gets on the same machine.

Usage:
  python experiments/benchmarks/kernel_peak_bench.py                     # 8x512, 8x2048, 1x8192 (~5 min, 2-core CPU)
  python experiments/benchmarks/kernel_peak_bench.py --shapes 8x512 --rounds 3
  python experiments/benchmarks/kernel_peak_bench.py --head-groups 8 1   # the kernel over smaller working sets
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as attention_bench.py: torch's threads sleep between calls
os.environ.setdefault("KMP_BLOCKTIME", "0")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

import attnjax.ops as ops  # noqa: E402
from attnjax.ops.chunked import choose_chunk_sizes  # noqa: E402
from experiments.benchmarks.attention_bench import (  # noqa: E402
    HEAD_DIM, HEADS, Contender, _fmt_time, _inputs, _jax_contender, _parse_shape, _time_interleaved, _torch_contender,
)
from experiments.benchmarks.train_bench import matmul_flops_per_second  # noqa: E402

DEFAULT_SHAPES = ((8, 512), (8, 2048), (1, 8192))
_F32 = jnp.float32


def attention_flops(batch: int, length: int, backward: bool, heads: int = HEADS, head_dim: int = HEAD_DIM) -> float:
    """FlashAttention's count: forward 2 products (4 B H L^2 D); forward+backward 7 (14 B H L^2 D)."""
    products = 7 if backward else 2
    return 2.0 * products * batch * heads * length * length * head_dim


def _forward_products(q, k, v, qc: int, kc: int):
    """The kernel's forward loops (a map over query blocks, a loop over key blocks) with only its
    two products: ``acc += (q_blk k_blk^T) v_blk``. ``[B, L, H, D]`` in, ``[B, L, H, D]`` out."""
    b, q_len, heads, d = q.shape

    def query_block(qi):
        q_blk = lax.dynamic_slice_in_dim(q, qi * qc, qc, axis=1)

        def key_step(kj, acc):
            k_blk = lax.dynamic_slice_in_dim(k, kj * kc, kc, axis=1)
            v_blk = lax.dynamic_slice_in_dim(v, kj * kc, kc, axis=1)
            s = jnp.einsum("bqhd,bkhd->bhqk", q_blk, k_blk, preferred_element_type=_F32)
            return acc + jnp.einsum("bhqk,bkhd->bhqd", s, v_blk, preferred_element_type=_F32)

        acc = lax.fori_loop(0, k.shape[1] // kc, key_step, jnp.zeros((b, heads, qc, d), _F32))
        return acc.transpose(0, 2, 1, 3)

    outs = lax.map(query_block, jnp.arange(q_len // qc))
    return jnp.moveaxis(outs, 0, 1).reshape(q.shape)


def _backward_products(q, k, v, d_out, qc: int, kc: int):
    """The kernel's backward loops (over key blocks, then query blocks) with only its five
    products, the elementwise ``ds = p (dp - delta)`` replaced by ``dp``."""

    def key_block(kj, carry):
        d_q, d_k, d_v = carry
        k_blk = lax.dynamic_slice_in_dim(k, kj * kc, kc, axis=1)
        v_blk = lax.dynamic_slice_in_dim(v, kj * kc, kc, axis=1)

        def query_step(qi, inner):
            d_q, d_k_blk, d_v_blk = inner
            q_blk = lax.dynamic_slice_in_dim(q, qi * qc, qc, axis=1)
            do_blk = lax.dynamic_slice_in_dim(d_out, qi * qc, qc, axis=1)
            p = jnp.einsum("bqhd,bkhd->bhqk", q_blk, k_blk, preferred_element_type=_F32)
            dp = jnp.einsum("bqhd,bkhd->bhqk", do_blk, v_blk, preferred_element_type=_F32)
            d_v_blk = d_v_blk + jnp.einsum("bhqk,bqhd->bkhd", p, do_blk, preferred_element_type=_F32)
            dq_blk = jnp.einsum("bhqk,bkhd->bqhd", dp, k_blk, preferred_element_type=_F32)
            d_k_blk = d_k_blk + jnp.einsum("bhqk,bqhd->bkhd", dp, q_blk, preferred_element_type=_F32)
            d_q = lax.dynamic_update_slice_in_dim(
                d_q, lax.dynamic_slice_in_dim(d_q, qi * qc, qc, axis=1) + dq_blk, qi * qc, axis=1)
            return d_q, d_k_blk, d_v_blk

        zeros = jnp.zeros(k_blk.shape, _F32)
        d_q, d_k_blk, d_v_blk = lax.fori_loop(0, q.shape[1] // qc, query_step, (d_q, zeros, zeros))
        d_k = lax.dynamic_update_slice_in_dim(d_k, d_k_blk, kj * kc, axis=1)
        d_v = lax.dynamic_update_slice_in_dim(d_v, d_v_blk, kj * kc, axis=1)
        return d_q, d_k, d_v

    zeros = jnp.zeros(q.shape, _F32)
    return lax.fori_loop(0, k.shape[1] // kc, key_block, (zeros, zeros, zeros))


def products_only(q, k, v, qc: int, kc: int, backward: bool):
    """The forward products, and with ``backward`` the backward's too (d_out = ones, as the grad of
    ``sum(out)`` that attention_bench.py times)."""
    out = _forward_products(q, k, v, qc, kc)
    if not backward:
        return out
    return out, _backward_products(q, k, v, jnp.ones_like(out), qc, kc)


def in_head_groups(q, k, v, group: int):
    """Chunked ``scaled_dot`` over groups of ``group`` (batch, head) pairs, one group after another.
    ``[B, L, H, D]`` in and out; ``group`` divides ``B H``."""
    b, length, heads, d = q.shape
    if (b * heads) % group:
        raise ValueError(f"--head-groups {group} does not divide B*H = {b * heads}; pick a divisor")

    def split(x):  # [B, L, H, D] -> [B H / G, 1, L, G, D]: each group is a batch of one with G heads
        x = x.transpose(0, 2, 1, 3).reshape(b * heads // group, group, x.shape[1], d)
        return x.transpose(0, 2, 1, 3)[:, None]

    out = lax.map(lambda qkv: ops.chunked_attention(*qkv, score="scaled_dot")[0], (split(q), split(k), split(v)))
    return out.transpose(0, 2, 1, 3).reshape(b, heads, length, d).transpose(0, 2, 1, 3)


def contenders(batch: int, length: int, backward: bool, head_groups=()) -> list[Contender]:
    q, k, v, _ = _inputs(batch, length)
    qc, kc = choose_chunk_sizes(batch, HEADS, length, length)
    out = [_jax_contender("chunked scaled_dot", functools.partial(ops.chunked_attention, score="scaled_dot"),
                          (q, k, v), backward)]
    for group in head_groups:
        gqc, gkc = choose_chunk_sizes(1, group, length, length)
        out.append(_jax_contender(f"chunked, {group} heads at a time ({gqc}x{gkc} blocks)",
                                  functools.partial(in_head_groups, group=group), (q, k, v), backward))
    products = jax.jit(functools.partial(products_only, qc=qc, kc=kc, backward=backward))
    out.append(Contender(f"products only ({qc}x{kc} blocks)", lambda: jax.block_until_ready(products(q, k, v))))
    torch_c = _torch_contender(batch, length, backward)
    if torch_c is not None:
        out.append(torch_c)
    return out


def peak_table(shapes, rounds: int, max_seconds: float, head_groups=()) -> str:
    before = matmul_flops_per_second(jnp.float32)
    rows = []
    for batch, length in shapes:
        for backward in (False, True):
            group = contenders(batch, length, backward, head_groups)
            _time_interleaved(group, rounds, max_seconds)
            rows.append((batch, length, backward, group))
    after = matmul_flops_per_second(jnp.float32)
    peak = statistics.mean([before, after])
    lines = [
        f"JAX 2048^3 float32 matmul: {before / 1e9:.1f} GFLOP/s before, {after / 1e9:.1f} after; fractions below "
        f"are of their mean, {peak / 1e9:.1f}. H={HEADS}, D={HEAD_DIM}, float32; {jax.devices()[0].platform}.",
        "",
        "| B x L | pass | contender | median | GFLOP/s | fraction of matmul peak | share of chunked's time | rounds |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for batch, length, backward, group in rows:
        flops = attention_flops(batch, length, backward)
        ours = group[0].median
        for c in group:
            if c.median is None:
                continue
            rate = flops / c.median
            share = f"{c.median / ours:.2f}" if ours else "-"
            lines.append(
                f"| {batch}x{length} | {'fwd+bwd' if backward else 'fwd'} | {c.name} | {_fmt_time(c.median)} | "
                f"{rate / 1e9:.1f} | {rate / peak:.2f} | {share} | {len(c.times)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", type=_parse_shape, default=list(DEFAULT_SHAPES),
                        help="B x L pairs, e.g. 8x512 1x8192")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop adding rounds to a group after this")
    parser.add_argument("--head-groups", nargs="*", type=int, default=[],
                        help="also time the kernel over groups of this many (batch, head) pairs, e.g. 8 1")
    args = parser.parse_args(argv)
    for group in args.head_groups:
        for batch, _ in args.shapes:
            if group <= 0 or (batch * HEADS) % group:
                parser.error(f"--head-groups {group}: expected a positive divisor of B*H = {batch * HEADS} "
                             f"for every shape (H = {HEADS})")
    print(peak_table(args.shapes, args.rounds, args.max_seconds, args.head_groups))


if __name__ == "__main__":
    sys.exit(main())
