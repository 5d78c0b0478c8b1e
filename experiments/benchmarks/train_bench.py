"""Training throughput: our Transformer classifier against the same model built from Flax's attention
and the same model written in PyTorch.

Both models: token embedding + sinusoidal positions, ``--layers`` pre-norm Transformer layers
(d_model 128, 4 heads, MLP 512, GELU), a final layer norm, mean pooling over real tokens, a linear
classifier. "ours" is ``attnjax.models`` (``classifier``, attention by name); "flax" swaps in
``flax.linen.MultiHeadDotProductAttention`` and is otherwise the same code path, with the same
parameter count. "torch eager" and "torch compile" are the same architecture in PyTorch
(``torch.nn.TransformerEncoderLayer`` with ``norm_first=True``, tanh GELU, layer-norm epsilon 1e-6 as
flax, the same sinusoidal table and mean pooling, AdamW with optax's defaults), run eagerly and through
``torch.compile``; they are timed when torch is installed (the ``bench`` extra), and a contender that
fails to build says why in the table. One training step = forward, backward and an AdamW update on
the same batch; all contenders are timed in interleaved rounds and the median step time is reported.

Model FLOP/s is XLA's cost analysis of the compiled step (``flops``) over the measured step time,
reported as a fraction of the machine's float32 (or bfloat16) matmul FLOP/s (2048^3, measured in the
same run); torch rows use the FLOPs of our step (same model).

    python experiments/benchmarks/train_bench.py                    # 2 layers, L=256, B=32, float32
    python experiments/benchmarks/train_bench.py --dtype bfloat16   # on a GPU/TPU
    python experiments/benchmarks/train_bench.py --torch eager      # no torch.compile (slow to build)
    python experiments/benchmarks/train_bench.py --torch            # JAX contenders only
    python experiments/benchmarks/train_bench.py --torch --rounds 1 --profile /tmp/prof   # where our step's time goes

``--profile DIR`` also traces 5 of our steps with ``jax.profiler`` (a Perfetto trace in DIR) and
prints the XLA operations that took the most time, each with its output shape and the model
operation it comes from (the HLO metadata), so a slow kernel can be traced back to the code.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import statistics
import time
from typing import Callable

# torch's OpenMP threads spin after each call and slow the JAX contender timed next; make them sleep
# (read once, when torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KMP_BLOCKTIME", "0")

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.models import build_model
from attnjax.nn.positional import sinusoidal_table
from attnjax.nn.pooling import mean_pool


class FlaxLayer(nn.Module):
    num_heads: int
    mlp_dim: int
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x, mask):
        h = nn.LayerNorm(dtype=self.dtype)(x)
        attention_mask = nn.make_attention_mask(mask, mask)
        h = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, dtype=self.dtype)(h, mask=attention_mask)
        x = x + h
        h = nn.LayerNorm(dtype=self.dtype)(x)
        h = nn.Dense(self.mlp_dim, dtype=self.dtype)(h)
        h = nn.Dense(x.shape[-1], dtype=self.dtype)(nn.gelu(h))
        return x + h


class FlaxClassifier(nn.Module):
    """The reference: same architecture and sizes, attention from ``flax.linen``."""

    vocab_size: int
    d_model: int
    num_heads: int
    mlp_dim: int
    num_layers: int
    num_classes: int = 2
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, inputs):
        mask = inputs != 0
        x = nn.Embed(self.vocab_size, self.d_model, dtype=self.dtype)(inputs)
        x = x + sinusoidal_table(inputs.shape[1], self.d_model).astype(x.dtype)[None]
        for _ in range(self.num_layers):
            x = FlaxLayer(self.num_heads, self.mlp_dim, self.dtype)(x, mask)
        x = nn.LayerNorm(dtype=self.dtype)(x)
        return nn.Dense(self.num_classes, dtype=self.dtype)(mean_pool(x, mask)).astype(jnp.float32)


def make_step(model, tx):
    def loss_fn(params, batch):
        logits = model.apply({"params": params}, batch["inputs"])
        return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["labels"]).mean()

    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1))


def torch_contenders(args, inputs: np.ndarray, labels: np.ndarray, modes=("eager", "compile")) -> dict[str, dict]:
    """``{"torch eager": ..., "torch compile": ...}``, each ``{"run": run(steps), "num_params"}`` or
    ``{"error": why}``; empty when torch is not installed."""
    try:
        import torch
    except ImportError:
        return {}
    from torch import nn as tnn

    class TorchClassifier(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed = tnn.Embedding(args.vocab, args.d_model)
            table = np.asarray(sinusoidal_table(args.length, args.d_model), np.float32)
            self.register_buffer("positions", torch.tensor(table))
            self.layers = tnn.ModuleList([
                tnn.TransformerEncoderLayer(
                    args.d_model, args.heads, args.mlp, dropout=0.0,
                    activation=lambda x: tnn.functional.gelu(x, approximate="tanh"),  # flax's nn.gelu
                    layer_norm_eps=1e-6, batch_first=True, norm_first=True)
                for _ in range(args.layers)
            ])
            self.norm = tnn.LayerNorm(args.d_model, eps=1e-6)
            self.head = tnn.Linear(args.d_model, 2)

        def forward(self, tokens):
            mask = tokens != 0
            x = self.embed(tokens) + self.positions[: tokens.shape[1]]
            for layer in self.layers:
                x = layer(x, src_key_padding_mask=~mask)
            x = self.norm(x)
            weights = mask.to(x.dtype)[..., None]
            pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1.0)
            return self.head(pooled)

    tokens, targets = torch.tensor(inputs, dtype=torch.long), torch.tensor(labels, dtype=torch.long)
    out = {}
    for mode in modes:
        name, compile_it = f"torch {mode}", mode == "compile"
        torch.manual_seed(0)
        model = TorchClassifier()
        # optax.adamw's defaults: b1 0.9, b2 0.999, eps 1e-8, weight decay 1e-4.
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4, eps=1e-8)
        forward = torch.compile(model) if compile_it else model

        def step(forward=forward, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            loss = tnn.functional.cross_entropy(forward(tokens), targets)
            loss.backward()
            optimizer.step()

        def run(steps, step=step):
            for _ in range(steps):
                step()

        try:
            run(2)  # compiles (torch.compile) and allocates
        except Exception as err:  # torch.compile needs a working C++ toolchain; report, do not fail
            out[name] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"}
            continue
        out[name] = {"run": run, "num_params": sum(p.numel() for p in model.parameters())}
    return out


def matmul_flops_per_second(dtype, size: int = 2048, repeats: int = 10) -> float:
    a = jnp.ones((size, size), dtype)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def _jax_runner(compiled, params, opt_state, batch) -> Callable[[int], None]:
    """``run(steps)``: that many training steps, blocking until the last one is done."""
    state = {"params": params, "opt_state": opt_state}

    def run(steps):
        for _ in range(steps):
            state["params"], state["opt_state"], loss = compiled(state["params"], state["opt_state"], batch)
        loss.block_until_ready()

    return run


def profile_step(run: Callable[[int], None], compiled, directory: str, steps: int = 5, top: int = 12) -> list[dict]:
    """Traces ``run(steps)`` (a contender's runner, so its state carries on) into ``directory`` and
    returns the ``top`` XLA operations of ``compiled`` by time per step:
    ``{"op", "ms_per_step", "share", "shape", "source"}``."""
    jax.profiler.start_trace(directory, create_perfetto_trace=True)
    run(steps)
    jax.profiler.stop_trace()
    traces = sorted(glob.glob(os.path.join(directory, "**", "perfetto_trace.json.gz"), recursive=True), key=os.path.getmtime)
    if not traces:
        raise RuntimeError(f"jax.profiler wrote no perfetto_trace.json.gz under {directory!r}")
    events = json.load(gzip.open(traces[-1]))
    events = events["traceEvents"] if isinstance(events, dict) else events
    # The HLO's own op names (fusion.12, dot_general.76, ...); the executor's wrapper events are not ops.
    hlo = {}
    for line in compiled.as_text().splitlines():
        line = line.strip().removeprefix("ROOT ")
        if line.startswith("%") and " = " in line:
            name, rest = line[1:].split(" = ", 1)
            source = rest.split('op_name="', 1)[1].split('"', 1)[0] if 'op_name="' in rest else ""
            hlo[name] = (rest.split(" ", 1)[0], source)
    spent = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event.get("name") in hlo:
            spent[event["name"]] += event.get("dur", 0.0)  # microseconds
    total = sum(spent.values())
    return [
        {"op": name, "ms_per_step": us / steps / 1e3, "share": us / total if total else float("nan"),
         "shape": hlo[name][0], "source": hlo[name][1].removeprefix("jit(step)/")}
        for name, us in spent.most_common(top)
    ]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--mlp", type=int, default=512)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps-per-round", type=int, default=10)
    parser.add_argument("--torch", nargs="*", default=["eager", "compile"], choices=["eager", "compile"],
                        help="PyTorch contenders to time (none: --torch with no value)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--profile", metavar="DIR", help="also trace our step into DIR and print its costliest XLA ops")
    args = parser.parse_args(argv)
    dtype = jnp.dtype(args.dtype)

    ours = build_model({
        "model": "classifier", "attention": "scaled_dot", "vocab_size": args.vocab, "d_model": args.d_model,
        "num_heads": args.heads, "num_layers": args.layers, "mlp_dim": args.mlp, "dropout_rate": 0.0,
        "pooling": "mean", "max_length": args.length, **({"dtype": args.dtype} if args.dtype != "float32" else {}),
    })
    reference = FlaxClassifier(args.vocab, args.d_model, args.heads, args.mlp, args.layers, dtype=dtype)

    rng = np.random.default_rng(0)
    lengths = rng.integers(args.length // 2, args.length + 1, args.batch)
    tokens = rng.integers(3, args.vocab, (args.batch, args.length))
    batch = {
        "inputs": jnp.asarray(np.where(np.arange(args.length)[None] < lengths[:, None], tokens, 0), jnp.int32),
        "labels": jnp.asarray(rng.integers(0, 2, args.batch), jnp.int32),
    }
    real_tokens = int((np.asarray(batch["inputs"]) != 0).sum())

    contenders: dict[str, dict] = {}
    for name, model in (("ours", ours), ("flax", reference)):
        params = jax.jit(model.init)(jax.random.key(0), batch["inputs"])["params"]
        tx = optax.adamw(1e-4)
        step = make_step(model, tx)
        opt_state = tx.init(params)
        compiled = step.lower(params, opt_state, batch).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        params, opt_state, loss = compiled(params, opt_state, batch)
        loss.block_until_ready()
        contenders[name] = {
            "run": _jax_runner(compiled, params, opt_state, batch), "compiled": compiled, "times": [],
            "flops": float(cost.get("flops", float("nan"))),
            "num_params": sum(x.size for x in jax.tree.leaves(params)),
        }
    failed = {}
    if args.torch:
        if args.dtype != "float32":
            failed["torch"] = "the PyTorch contenders run float32 only"
        else:
            torch_cs = torch_contenders(args, np.asarray(batch["inputs"]), np.asarray(batch["labels"]), args.torch)
            for name, c in torch_cs.items():
                if "error" in c:
                    failed[name] = c["error"]
                else:
                    contenders[name] = {**c, "times": [], "flops": contenders["ours"]["flops"]}

    for _ in range(args.rounds):
        for name, c in contenders.items():  # interleaved: all see the same machine load
            start = time.perf_counter()
            c["run"](args.steps_per_round)
            c["times"].append((time.perf_counter() - start) / args.steps_per_round)

    peak = matmul_flops_per_second(dtype)
    results = {"device": jax.devices()[0].device_kind, "backend": jax.default_backend(), "dtype": args.dtype,
               "matmul_flops_per_second": peak, "shape": vars(args)}
    for name, c in contenders.items():
        median = statistics.median(c["times"])
        results[name] = {
            "step_seconds_median": median,
            "tokens_per_second": real_tokens / median,
            "padded_tokens_per_second": args.batch * args.length / median,
            "model_flops_per_step": c["flops"],
            "model_flops_per_second": c["flops"] / median,
            "fraction_of_matmul_peak": c["flops"] / median / peak,
            "num_params": int(c["num_params"]),
        }
    ours_median = results["ours"]["step_seconds_median"]
    results["speed_ratio_ours_over_flax"] = results["flax"]["step_seconds_median"] / ours_median
    for name in contenders:
        if name.startswith("torch"):
            results[f"speed_ratio_ours_over_{name.replace(' ', '_')}"] = results[name]["step_seconds_median"] / ours_median
    results["not_run"] = failed
    if args.profile:  # after the timed rounds, which it would otherwise perturb; the runner is warm by now
        profiled = profile_step(contenders["ours"]["run"], contenders["ours"]["compiled"], args.profile)
        results["profile_ours"] = profiled

    print(f"device: {results['device']} ({results['backend']}), {args.dtype}, B={args.batch} L={args.length} "
          f"layers={args.layers} d_model={args.d_model} heads={args.heads} mlp={args.mlp}; "
          f"{args.rounds} interleaved rounds of {args.steps_per_round} steps")
    print(f"measured matmul peak ({args.dtype}, 2048^3): {peak / 1e9:.1f} GFLOP/s\n")
    print("| model | params | step (median) | tokens/s | model GFLOP/s | fraction of matmul peak |")
    print("|---|---|---|---|---|---|")
    for name in contenders:
        r = results[name]
        print(f"| {name} | {r['num_params']:,} | {r['step_seconds_median'] * 1e3:.1f} ms | {r['tokens_per_second']:,.0f} | "
              f"{r['model_flops_per_second'] / 1e9:.1f} | {r['fraction_of_matmul_peak']:.2f} |")
    for name, why in failed.items():
        print(f"| {name} | - | not run: {why} | - | - | - |")
    print()
    for name in contenders:
        if name != "ours":
            ratio = results[name]["step_seconds_median"] / ours_median
            print(f"ours / {name} speed: {ratio:.3f}x (above 1: ours faster)")
    if args.profile:
        print(f"\nour step's costliest XLA ops (5 traced steps, trace in {args.profile}):\n")
        print("| op | ms per step | share of op time | output | from |")
        print("|---|---:|---:|---|---|")
        for row in profiled:
            print(f"| {row['op']} | {row['ms_per_step']:.1f} | {row['share']:.1%} | {row['shape']} | {row['source'][:90]} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
