"""Parameter counts per module, for any model's params pytree."""

from __future__ import annotations

import math
from typing import Any, Mapping

import jax
import numpy as np


def _size(tree: Any) -> int:
    # Arrays or shape-only leaves (jax.eval_shape), so a summary needs no real initialisation.
    return sum(math.prod(getattr(x, "shape", np.shape(x))) for x in jax.tree.leaves(tree))


def count_params(params: Any, depth: int = 1) -> dict[str, int]:
    """``{"module/submodule": count}`` for the modules ``depth`` levels below the root.

    A module with direct parameters at a shallower level is listed under its own path.
    """
    if depth < 1:
        raise ValueError(f"depth={depth} is not allowed; expected a positive integer")
    counts: dict[str, int] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        # Score parameters are a dict inside one parameter: a non-Mapping or a full-depth path stops.
        if len(path) == depth or not isinstance(node, Mapping):
            counts["/".join(path)] = _size(node)
            return
        for name, child in node.items():
            walk(child, path + (str(name),))

    walk(params, ())
    return counts


def model_summary(params: Any, depth: int = 1) -> str:
    """A text table of parameter counts per module (``depth`` levels deep) and the total."""
    counts = count_params(params, depth)
    total = _size(params)
    width = max([len("total")] + [len(name) for name in counts])
    lines = [f"{'module':<{width}}  {'params':>12}  {'share':>6}", "-" * (width + 22)]
    for name, count in counts.items():
        share = 100.0 * count / total if total else 0.0
        lines.append(f"{name:<{width}}  {count:>12,}  {share:>5.1f}%")
    lines += ["-" * (width + 22), f"{'total':<{width}}  {total:>12,}  {100.0 if total else 0.0:>5.1f}%"]
    return "\n".join(lines)


def summarize(config: Any, depth: int = 1) -> str:
    """:func:`model_summary` for a config, from parameter shapes alone (nothing is initialised)."""
    from attnjax.models.registry import build_model, example_inputs  # registry imports the models

    model = build_model(config)
    shapes = jax.eval_shape(model.init, jax.random.key(0), *example_inputs(model.config))
    return model_summary(shapes["params"], depth)
