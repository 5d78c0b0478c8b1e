"""The additive kernel's two loop orders at the shapes the models call it with.

``attnjax.ops.tanh_sum`` (``attnjax/ops/additive.py``) sums ``v_a tanh(x_ia + y_ja)`` over the hidden
units either in **rows** order (the whole ``[B, H, Lq, Lk, A]`` product, summed over its minor axis)
or in **scan** order (a ``lax.scan`` over ``a``, one ``[B, H, Lq, Lk]`` tile a step), and picks by
the call's shape (``scans_hidden_axis``: more than one query and at least ``SCAN_MIN_PAIRS`` pairs).
This times both orders, forward and forward+backward (the gradient of ``sum(logits^2)`` with
respect to ``x``, ``y`` and ``v``), in interleaved rounds, and prints the median of each, the
rows / scan ratio (above 1: the scan is faster) and the order the rule picks. The machine's
2048^3 float32 matmul rate is measured in the same run.

    python experiments/benchmarks/additive_order_bench.py             # the shapes below, 7 rounds
    python experiments/benchmarks/additive_order_bench.py --shapes 64x1x50x1x128 8x128x128x8x64

A shape is ``BxLqxLkxHxA``. The defaults: attention pooling (one query, SST-2-sized), an RNN
decoder's step over a CNN/DailyMail-length source, the default grid's sentiment self-attention,
two shapes either side of the threshold, and two chunked blocks.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp

from attnjax.ops import additive
from experiments.benchmarks.train_bench import matmul_flops_per_second

DEFAULT_SHAPES = (
    (64, 1, 50, 1, 128),  # attention pooling: one learned query over a batch of sentences
    (16, 1, 400, 1, 256),  # an RNN decoder's step over a long source
    (64, 32, 32, 1, 64),  # the default grid's sentiment self-attention (65,536 pairs)
    (64, 4, 32, 1, 64),  # 8,192 pairs: under the threshold
    (64, 16, 32, 1, 64),  # 32,768 pairs: at it
    (8, 128, 128, 8, 64),  # a chunked block
    (1, 512, 512, 8, 64),  # a large chunked block
)


def _shape(text: str) -> tuple[int, ...]:
    parts = text.lower().split("x")
    if len(parts) != 5 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"a shape is BxLqxLkxHxA with positive integers, e.g. 64x1x50x1x128; got {text!r}")
    return tuple(int(p) for p in parts)


def _orders(shape):
    """``{order: (forward, forward_and_backward)}``, jitted, and their arguments."""
    b, q_len, k_len, heads, hidden = shape
    kx, ky, kv = jax.random.split(jax.random.key(0), 3)
    x = 0.5 * jax.random.normal(kx, (b, q_len, heads, hidden))
    y = 0.5 * jax.random.normal(ky, (b, k_len, heads, hidden))
    v = jax.random.normal(kv, (heads, hidden))
    out = {}
    for order in additive.ORDERS:
        fn = functools.partial(additive.tanh_sum, order=order)
        grad = jax.grad(lambda x, y, v, fn=fn: jnp.sum(fn(x, y, v) ** 2), argnums=(0, 1, 2))
        out[order] = (jax.jit(fn), jax.jit(grad))
    return out, (x, y, v)


def _time(fn, args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def order_table(shapes, rounds: int) -> str:
    rows = []
    for shape in shapes:
        orders, args = _orders(shape)
        calls = {(name, pass_): fns[i] for name, fns in orders.items() for i, pass_ in enumerate(("fwd", "fwd+bwd"))}
        for fn in calls.values():  # compile and warm up
            _time(fn, args)
        times = {key: [] for key in calls}
        for _ in range(rounds):  # interleaved: every call once a round
            for key, fn in calls.items():
                times[key].append(_time(fn, args))
        med = {key: statistics.median(t) * 1e3 for key, t in times.items()}
        b, q_len, k_len, heads, hidden = shape
        picked = "scan" if additive.scans_hidden_axis((b, q_len, heads, hidden), (b, k_len, heads, hidden)) else "rows"
        rows.append(
            f"| {'x'.join(map(str, shape))} | {b * heads * q_len * k_len:,} | {med['rows', 'fwd']:.2f} | {med['scan', 'fwd']:.2f} | "
            f"{med['rows', 'fwd'] / med['scan', 'fwd']:.2f}x | {med['rows', 'fwd+bwd']:.2f} | {med['scan', 'fwd+bwd']:.2f} | "
            f"{med['rows', 'fwd+bwd'] / med['scan', 'fwd+bwd']:.2f}x | {picked} |"
        )
    header = ("| B x Lq x Lk x H x A | pairs | rows fwd ms | scan fwd ms | rows / scan | rows fwd+bwd ms | scan fwd+bwd ms "
              "| rows / scan | rule picks |\n|---|---:|---:|---:|---:|---:|---:|---:|---|")
    return header + "\n" + "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", type=_shape, nargs="+", default=list(DEFAULT_SHAPES))
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median over them)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}; 2048^3 float32 matmul {matmul_flops_per_second(jnp.float32) / 1e9:.1f} GFLOP/s; "
          f"SCAN_MIN_PAIRS = {additive.SCAN_MIN_PAIRS}; {args.rounds} rounds\n")
    print(order_table(args.shapes, args.rounds))


if __name__ == "__main__":
    main()
