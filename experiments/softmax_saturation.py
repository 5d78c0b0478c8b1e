"""How saturated each row's softmax is at initialisation: Vaswani et al. (2017)'s section 3.2.1, measured.

    python experiments/softmax_saturation.py                       # the default grid's sentiment rows
    python experiments/softmax_saturation.py --variants dot_k256,scaled_dot_k256 --seeds 0,1,2,3,4,5

"We suspect that for large values of d_k, the dot products grow large in magnitude, pushing the
softmax function into regions where it has extremely small gradients." For each variant of the
default grid's ``sentiment`` benchmark (``experiments/configs/compare_builtin.py``), this initialises
the model from each seed, as training would start, feeds it ``--batch`` sequences of
``--length`` random token ids (at initialisation the embeddings are random, so which words they are
does not matter), and reports, for every attention layer (the encoder's self-attention, the
pooling's learned query), the largest softmax weight of a query averaged over queries, batch and
seeds: ``1 / length`` is a uniform softmax, 1.0 a one-hot one, whose gradient vanishes. Trains
nothing; seconds on a CPU.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.models import build_model, example_inputs
from experiments import grid as grid_lib
from experiments.compare import CONFIG_DIR

BENCHMARK = "sentiment"
DEFAULT_VARIANTS = ("scaled_dot", "multihead_dot", "multihead_scaled_dot", "dot_k256", "scaled_dot_k256")
WEIGHTS = "attention_weights"  # what attnjax.nn.Attention sows


def largest_weights_at_init(model_config: dict, tokens: jax.Array) -> Callable[[int], dict[str, float]]:
    """``seed -> {attention layer: mean over queries of its largest softmax weight}`` at
    initialisation; compiled once for the model, so every seed reuses the compilation."""
    model = build_model(model_config)

    @jax.jit
    def measure(rng: jax.Array) -> dict[str, jax.Array]:
        params = model.init(rng, *example_inputs(model.config))["params"]  # as init_model draws them
        _, state = model.apply({"params": params}, tokens, mutable=["intermediates"])
        found = {}
        for path, weights in jax.tree_util.tree_flatten_with_path(state["intermediates"])[0]:
            names = [str(getattr(key, "key", key)) for key in path]
            if WEIGHTS in names:  # [batch, heads, queries, keys]
                found["/".join(names[: names.index(WEIGHTS)])] = jnp.max(weights, axis=-1).mean()
        return found

    return lambda seed: {layer: float(value) for layer, value in measure(jax.random.key(seed)).items()}


def measure(variants: Sequence[str], seeds: Sequence[int], batch: int, length: int) -> list[dict]:
    """One row per (variant, attention layer): the mean and range over ``seeds``."""
    grid = grid_lib.load_grid(CONFIG_DIR / "compare_builtin.py")
    base = grid.benchmarks[BENCHMARK]
    vocab = base.data.vocab_size
    tokens = jax.random.randint(jax.random.key(12345), (batch, length), 1, vocab)
    rows = []
    for variant in variants:
        config = grid_lib.VARIANTS.get(variant).apply(base, grid.heads)
        model_config = {**config.model.to_dict(), "vocab_size": vocab, "max_length": max(length, config.model.max_length)}
        at_init = largest_weights_at_init(model_config, tokens)
        per_seed = [at_init(seed) for seed in seeds]
        for layer in per_seed[0]:
            values = np.array([found[layer] for found in per_seed])
            rows.append(dict(variant=variant, layer=layer, mean=float(values.mean()), low=float(values.min()),
                             high=float(values.max())))
    return rows


def markdown(rows: Sequence[dict], length: int, seeds: Sequence[int]) -> str:
    lines = [
        f"largest softmax weight of a query at initialisation, mean over queries and seeds {', '.join(map(str, seeds))} "
        f"(uniform: {1 / length:.3f}, one-hot: 1.0)",
        "",
        "| variant | attention layer | largest weight | range over seeds |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {r['variant']} | {r['layer']} | {r['mean']:.2f} | {r['low']:.2f}-{r['high']:.2f} |" for r in rows]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated grid variants")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated initialisation seeds")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--length", type=int, default=32, help="tokens per sequence (the grid trains on 32)")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.batch <= 0 or args.length <= 1 or not seeds or not variants:
        parser.error(
            f"got --batch {args.batch}, --length {args.length}, --seeds {args.seeds!r}, --variants {args.variants!r}; "
            "expected a positive batch, a length of at least 2 and at least one seed and variant"
        )
    try:
        for variant in variants:
            grid_lib.VARIANTS.get(variant)
    except ValueError as error:
        parser.error(str(error))
    print(markdown(measure(variants, seeds, args.batch, args.length), args.length, seeds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
