"""Attention benchmark: every score, plain and chunked, against jax.nn.dot_product_attention.

Times the forward and the forward+backward pass (gradients of ``sum(out)`` with respect to q, k, v
and the score's parameters) of every registered score, plain (:func:`attnjax.ops.attention`) and
chunked (:func:`attnjax.ops.chunked_attention`), interleaved round by round with
``jax.nn.dot_product_attention`` (and ``torch.nn.functional.scaled_dot_product_attention`` when
torch is installed), so machine noise hits every contender alike; a call shorter than 50 ms is
repeated within its sample. Reports medians over rounds and the speed
ratio ``reference time / our time`` (above 1: faster than jax.nn).

Then measures the memory of forward+backward at long lengths (B=1, H=8, D=64), each length in a
subprocess: XLA's compiled temp memory and the process's peak RSS growth over its baseline.

Usage:
  python experiments/benchmarks/attention_bench.py                    # the full table (~30 min, 2-core CPU)
  python experiments/benchmarks/attention_bench.py --quick            # L=128,512 only, 3 rounds
  python experiments/benchmarks/attention_bench.py --shapes 8x2048 --scores scaled_dot --no-memory
  python experiments/benchmarks/attention_bench.py --chunk-sweep 8x2048  # tune chunk sizes
  python experiments/benchmarks/attention_bench.py --shapes 1x8192 --scores scaled_dot additive --implementations chunked
  python experiments/benchmarks/attention_bench.py --memory-only      # the memory table alone
  python experiments/benchmarks/attention_bench.py --implementation cudnn  # GPU reference

Writes the markdown table to stdout and, with ``--out FILE``, to FILE.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Optional

# torch's OpenMP/MKL threads spin for up to 200 ms after each call (KMP_BLOCKTIME) and slowed the
# contender timed after torch sdpa by 10-20% at B=8, L=128; make them sleep instead. Set before
# torch is imported (it reads them once).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import attnjax.ops as ops  # noqa: E402

HEADS, HEAD_DIM = 8, 64
DEFAULT_SHAPES = ((8, 128), (8, 512), (8, 2048), (1, 8192))
MEMORY_LENGTHS = (8192, 16384, 32768)
# A contender whose XLA temp memory exceeds this is reported as "needs N GiB" and not run.
MEMORY_BUDGET_BYTES = 12 * 2**30
# A millisecond call timed once is mostly scheduler noise on a shared 2-core machine: calls shorter
# than this are repeated within one sample (the sample is their mean).
MIN_SAMPLE_SECONDS = 0.05


@dataclasses.dataclass
class Contender:
    name: str
    run: Callable[[], None]  # one timed call, blocking until the result is ready
    times: list[float] = dataclasses.field(default_factory=list)
    note: str = ""
    calls: int = 1  # calls per timed sample: fast contenders repeat so a sample spans >= MIN_SAMPLE_SECONDS

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.times) if self.times else None


def _inputs(batch: int, length: int, seed: int = 0):
    keys = jax.random.split(jax.random.key(seed), 4)
    q, k, v = (jax.random.normal(kk, (batch, length, HEADS, HEAD_DIM), jnp.float32) for kk in keys[:3])
    return q, k, v, keys[3]


def _jax_contender(name, fn, args, backward: bool, known_bytes: int = 0) -> Contender:
    """Compiles ``fn`` (or its gradient) once; skips it when XLA says it needs too much memory, or
    ``known_bytes`` (an intermediate the caller knows of) is over the budget."""
    if known_bytes > MEMORY_BUDGET_BYTES:
        return Contender(name, lambda: None, note=f"needs {known_bytes / 2**30:.0f} GiB")
    if backward:
        argnums = tuple(range(len(args)))
        compiled_fn = jax.jit(jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=argnums))
    else:
        compiled_fn = jax.jit(fn)
    try:
        compiled = compiled_fn.lower(*args).compile()
    except Exception as err:  # XLA refuses allocations it cannot make at compile time
        return Contender(name, lambda: None, note=f"does not compile: {type(err).__name__}")
    temp = compiled.memory_analysis().temp_size_in_bytes
    if temp > MEMORY_BUDGET_BYTES:
        return Contender(name, lambda: None, note=f"needs {temp / 2**30:.0f} GiB")
    return Contender(name, lambda: jax.block_until_ready(compiled(*args)))


def _torch_contender(batch, length, backward: bool) -> Optional[Contender]:
    try:
        import torch
    except ImportError:
        return None
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, HEADS, length, HEAD_DIM, generator=gen) for _ in range(3))
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def forward():
        with torch.no_grad():
            sdpa(q, k, v)

    def forward_backward():
        qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
        sdpa(qq, kk, vv).sum().backward()

    return Contender("torch sdpa", forward_backward if backward else forward)


OUR_IMPLEMENTATIONS = ("plain", "chunked")


def _contenders(batch, length, scores, backward, chunks, implementation,
                ours=OUR_IMPLEMENTATIONS) -> list[Contender]:
    """jax.nn, torch's sdpa (when installed), then each score in each of ``ours`` (plain, chunked)."""
    q, k, v, pkey = _inputs(batch, length)
    ref = functools.partial(jax.nn.dot_product_attention, implementation=implementation)
    out = [_jax_contender("jax.nn.dot_product_attention", ref, (q, k, v), backward)]
    torch_c = _torch_contender(batch, length, backward)
    if torch_c is not None:
        out.append(torch_c)
    implementations = {
        "plain": ops.attention,
        "chunked": functools.partial(ops.chunked_attention, query_chunk_size=chunks[0], key_chunk_size=chunks[1]),
    }
    for name in scores:
        score = ops.get_score(name)
        params = score.init(pkey, HEADS, HEAD_DIM)
        width = score.pair_width(params)
        for impl_name in ours:
            impl = implementations[impl_name]
            if score.has_params:
                fn = lambda q, k, v, p, impl=impl, s=score: impl(q, k, v, score=s, score_params=p)  # noqa: E731
                args = (q, k, v, params)
            else:
                fn = lambda q, k, v, impl=impl, s=score: impl(q, k, v, score=s)  # noqa: E731
                args = (q, k, v)
            # The plain additive score holds pair_width [B, H, Lq, Lk] float32 tiles (its kernel's scan)
            # that XLA's memory analysis misses (they sit inside tanh_sum's lax.cond, whose branch
            # temporaries it does not count), so the budget check needs them said.
            known = batch * HEADS * length * length * width * 4 if impl_name == "plain" and width > 1 else 0
            out.append(_jax_contender(f"{name} {impl_name}", fn, args, backward, known))
    return out


def _time_interleaved(contenders: list[Contender], rounds: int, max_seconds: float) -> None:
    runnable = [c for c in contenders if not c.note]
    for c in runnable:  # warm up (the first call also pays for allocation), then size the samples
        t0 = time.perf_counter()
        c.run()
        if time.perf_counter() - t0 < 20 * MIN_SAMPLE_SECONDS:  # slow calls need no second look
            t0 = time.perf_counter()
            c.run()
            c.calls = max(1, min(100, int(MIN_SAMPLE_SECONDS / max(time.perf_counter() - t0, 1e-6))))
    start = time.perf_counter()
    for r in range(rounds):
        for c in runnable:
            t0 = time.perf_counter()
            for _ in range(c.calls):
                c.run()
            c.times.append((time.perf_counter() - t0) / c.calls)
        if r >= 2 and time.perf_counter() - start > max_seconds:
            break


def _fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _speed(reference: Optional[Contender], c: Contender) -> str:
    ok = reference is not None and reference.median and c.median
    return f"{reference.median / c.median:.2f}x" if ok else "-"


def _ratio_rows(prefix: str, contenders: list[Contender]) -> list[str]:
    """Markdown rows ``| prefix | name | median | speed vs the first contender | speed vs scaled_dot
    (same implementation: plain or chunked) | rounds | note |``."""
    by_name = {c.name: c for c in contenders}
    rows = []
    for c in contenders:
        implementation = c.name.rsplit(" ", 1)[-1]
        same_kind = by_name.get(f"scaled_dot {implementation}")
        vs_scaled_dot = _speed(same_kind, c) if same_kind is not None else "-"
        rows.append(f"| {prefix} | {c.name} | {_fmt_time(c.median)} | {_speed(contenders[0], c)} | "
                    f"{vs_scaled_dot} | {len(c.times)} | {c.note} |")
    return rows


def speed_table(shapes, scores, rounds, max_seconds, chunks, implementation, ours=OUR_IMPLEMENTATIONS) -> str:
    rows = []
    for batch, length in shapes:
        for backward in (False, True):
            pass_name = "fwd+bwd" if backward else "fwd"
            contenders = _contenders(batch, length, scores, backward, chunks, implementation, ours)
            _time_interleaved(contenders, rounds, max_seconds)
            rows += _ratio_rows(f"{batch}x{length} | {pass_name}", contenders)
            print(f"  done B={batch} L={length} {pass_name}", file=sys.stderr, flush=True)
    header = ("| B x L | pass | contender | median | speed vs jax.nn | speed vs scaled_dot | rounds | note |\n"
              "|---|---|---|---|---|---|---|---|")
    return header + "\n" + "\n".join(rows)


def tanh_rate(rounds: int = 5) -> str:
    """One line: the rate at which XLA evaluates ``sum_j tanh(x_i + y_j)`` on this machine (8 x 4096 x
    4096 pairs), the yardstick for the additive score, which is ``B * H * Lq * Lk * A`` such terms."""
    x = jax.random.normal(jax.random.key(0), (8, 4096, 1)) * 0.5
    y = jax.random.normal(jax.random.key(1), (8, 1, 4096)) * 0.5
    pass_ = jax.jit(lambda x, y: jnp.sum(jnp.tanh(x + y), axis=-1))
    jax.block_until_ready(pass_(x, y))
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        jax.block_until_ready(pass_(x, y))
        times.append(time.perf_counter() - start)
    rate = 8 * 4096 * 4096 / statistics.median(times)
    return (f"XLA tanh rate: sum_j tanh(x_i + y_j) at {rate / 1e9:.2f} G terms/s (median of {rounds}); "
            f"additive's hidden size A = {HEAD_DIM}, so a pass is B x {HEADS} x L^2 x {HEAD_DIM} terms\n")


# --- memory (each measurement in its own process, so peaks do not mix) ------------------------------


def _memory_contenders(chunks) -> dict[str, Callable]:
    return {
        "chunked scaled_dot": functools.partial(
            ops.chunked_attention, score="scaled_dot", query_chunk_size=chunks[0], key_chunk_size=chunks[1]),
        "jax.nn": jax.nn.dot_product_attention,
    }


def _peak_rss_bytes() -> int:
    """This process's peak resident memory so far.

    Linux's ``ru_maxrss`` survives exec: a child started by a parent that had grown to 12 GiB
    reports 12 GiB before doing anything (which zeroed the growth column of a full run). VmHWM in
    /proc belongs to the current address space only; other systems fall back to ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _memory_child(name: str, length: int, chunks) -> dict:
    q, k, v, _ = _inputs(1, length)
    fn = _memory_contenders(chunks)[name]
    grad = jax.jit(jax.grad(lambda q, k, v: jnp.sum(fn(q, k, v)), argnums=(0, 1, 2)))
    compiled = grad.lower(q, k, v).compile()
    temp = compiled.memory_analysis().temp_size_in_bytes
    result = {"contender": name, "length": length, "xla_temp_bytes": temp}
    if temp > MEMORY_BUDGET_BYTES:
        result["note"] = "not run: exceeds the budget"
        return result
    jax.block_until_ready((q, k, v))
    baseline = _peak_rss_bytes()
    jax.block_until_ready(compiled(q, k, v))
    peak = _peak_rss_bytes()
    result["peak_rss_growth_bytes"] = peak - baseline
    result["peak_rss_bytes"] = peak
    return result


def memory_table(lengths, chunks) -> str:
    rows = []
    for length in lengths:
        for name in _memory_contenders(chunks):
            cmd = [sys.executable, __file__, "--memory-child", name, str(length)]
            if chunks[0] is not None:
                cmd += ["--chunks", f"{chunks[0]}x{chunks[1]}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                rows.append(f"| {length} | {name} | - | - | failed: {proc.stderr.strip()[-120:]} |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            gib = lambda b: f"{b / 2**30:.2f} GiB" if b is not None else "-"  # noqa: E731
            rows.append(f"| {length} | {name} | {gib(r['xla_temp_bytes'])} | "
                        f"{gib(r.get('peak_rss_growth_bytes'))} | {r.get('note', '')} |")
            print(f"  done memory L={length} {name}", file=sys.stderr, flush=True)
    header = ("| L (B=1, H=8, D=64) | fwd+bwd of | XLA temp memory | peak RSS growth | note |\n"
              "|---|---|---|---|---|")
    return header + "\n" + "\n".join(rows)


def chunk_sweep(batch, length, rounds, max_seconds) -> str:
    q, k, v, _ = _inputs(batch, length)
    rows = []
    for backward in (False, True):
        contenders = [_jax_contender("jax.nn.dot_product_attention", jax.nn.dot_product_attention, (q, k, v), backward)]
        for qc in (256, 512, 1024):
            for kc in (256, 512, 1024):
                fn = functools.partial(ops.chunked_attention, query_chunk_size=qc, key_chunk_size=kc)
                contenders.append(_jax_contender(f"chunks {qc}x{kc}", fn, (q, k, v), backward))
        _time_interleaved(contenders, rounds, max_seconds)
        rows += _ratio_rows("fwd+bwd" if backward else "fwd", contenders)
    return ("| pass | contender | median | speed vs jax.nn | speed vs scaled_dot | rounds | note |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows))


def _parse_shape(text: str) -> tuple[int, int]:
    try:
        batch, length = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like 8x2048 (batch x length), got {text!r}")
    return batch, length


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", type=_parse_shape, nargs="+", default=list(DEFAULT_SHAPES))
    parser.add_argument("--scores", nargs="+", default=list(ops.list_scores()), choices=ops.list_scores())
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median over them)")
    parser.add_argument("--max-seconds", type=float, default=240.0,
                        help="stop adding rounds (after 3) once a shape has taken this long")
    parser.add_argument("--chunks", type=_parse_shape, default=(None, None),
                        help="query x key chunk sizes (default: chosen per score by chunked_attention)")
    parser.add_argument("--implementation", default=None, choices=[None, "xla", "cudnn"],
                        help="jax.nn.dot_product_attention implementation (cudnn on an NVIDIA GPU)")
    parser.add_argument("--implementations", nargs="+", default=list(OUR_IMPLEMENTATIONS), choices=OUR_IMPLEMENTATIONS,
                        help="which of ours to time (the plain additive score at L=8192 takes minutes a call "
                             "and, forward and backward, more memory than the budget)")
    parser.add_argument("--quick", action="store_true", help="L=128 and 512 only, 3 rounds")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory table")
    parser.add_argument("--memory-only", action="store_true", help="only the memory table")
    parser.add_argument("--memory-lengths", type=int, nargs="+", default=list(MEMORY_LENGTHS))
    parser.add_argument("--chunk-sweep", type=_parse_shape, default=None)
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    parser.add_argument("--memory-child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child:
        print(json.dumps(_memory_child(args.memory_child[0], int(args.memory_child[1]), args.chunks)))
        return
    if args.chunk_sweep:
        print(chunk_sweep(*args.chunk_sweep, args.rounds, args.max_seconds))
        return
    shapes = [(8, 128), (8, 512)] if args.quick else args.shapes
    rounds = 3 if args.quick else args.rounds
    device = jax.devices()[0]
    header = (f"Device: {device.platform} ({device.device_kind}), {jax.device_count()} device(s); "
              f"jax {jax.__version__}; python {platform.python_version()}; H={HEADS}, D={HEAD_DIM}, "
              f"float32; chunks {'auto' if args.chunks[0] is None else '%dx%d' % args.chunks}\n")
    if "additive" in args.scores and not args.memory_only:
        header += tanh_rate()
    tables = []
    if not args.memory_only:
        tables.append(speed_table(shapes, args.scores, rounds, args.max_seconds, args.chunks, args.implementation,
                                  tuple(args.implementations)))
    if not args.no_memory:
        tables.append(memory_table(args.memory_lengths, args.chunks))
    text = header + "\n" + "\n\n".join(tables)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
