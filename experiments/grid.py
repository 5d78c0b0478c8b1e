"""The comparison grid: attention variants x benchmarks x seeds, expanded into one training config each.

A grid file (``experiments/configs/compare_*.py``, ``grid_*.py``) defines ``get_config()`` returning an
``ml_collections.ConfigDict`` (so ``--config <file> --config.<field>=...`` reads it, as for one run):

    grid.name        str; shown in the table's title
    grid.variants    names in :data:`VARIANTS` (rows of the table)
    grid.seeds       training seeds (the data of built-in tasks stays the same across seeds)
    grid.heads       heads of the multi-head variants (single-head variants use 1)
    grid.split       ``test`` or ``validation``: the split the table reports (the best-validation
                     checkpoint is evaluated on it); ``validation`` where test labels are hidden
    grid.benchmarks  {benchmark name: a full training config (attnjax.train.default_config())}: the
                     table's column groups, e.g. "sentiment" (builtin:sentiment, classification) or
                     "sst2"; a benchmark is a data set and what is trained on it (``config.task``)
    grid.baselines   {benchmark name: names in experiments.baseline_rows.BASELINES (lead_3,
                     tfidf_logreg, ...)}, optional
    grid.benchmark_variants  {benchmark name: variants}, optional: the rows trained on that
                     benchmark (those of ``grid.variants``, in its order); a benchmark not named
                     trains every variant
    grid.contrasts   {name: a :class:`Contrast` as a dict}, optional: the named paired comparisons
                     the table states (experiments/table.py), e.g. scaled_dot vs none
    grid.targets     {benchmark name: a value of its main metric in table units (accuracy x 100,
                     ROUGE-1)}, optional: the table adds the first validation step reaching it

A variant only changes ``config.model`` fields, so within a benchmark every row trains the same
model, data and schedule except for the attention.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
from pathlib import Path
from typing import Any, Optional, Sequence

import ml_collections

from attnjax.models import with_attention
from attnjax.registry import Registry
from attnjax.train import complete, run_key


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row of the table: the score, single- or multi-head (the grid's ``heads``), and any other
    model fields the row changes (``model_fields``, ``(field, value)`` pairs, e.g. ``(("pointer", False),)``).
    ``models``: the models whose configs those fields change (``config.model.model`` names; empty:
    every model); on another model the row would train a copy of its plain-score row."""

    label: str
    attention: str
    multi_head: bool = False
    model_fields: tuple[tuple[str, Any], ...] = ()
    models: tuple[str, ...] = ()

    def check_model(self, name: str, model: str, benchmark: str) -> None:
        """ValueError unless this row means something for ``model`` (see ``models``)."""
        if self.models and model not in self.models:
            fields = ", ".join(f"model.{field}={value!r}" for field, value in self.model_fields)
            raise ValueError(
                f"variant {name!r} ({self.label}: {fields}) applies to model {' or '.join(map(repr, self.models))}, "
                f"but benchmark {benchmark!r} trains {model!r}, which ignores it (the row would repeat {self.attention!r}); "
                f"drop it from --variants (or grid.variants), or list the rows per benchmark in grid.benchmark_variants"
            )

    def apply(self, config: ml_collections.ConfigDict, heads: int) -> ml_collections.ConfigDict:
        """``config`` with this row's score and heads (and what the model changes without attention)."""
        config = copy.deepcopy(config)
        config.model.update(with_attention(config.model, self.attention, heads if self.multi_head else 1))
        config.model.update(dict(self.model_fields))
        return config


VARIANTS: Registry[Variant] = Registry("attention variant")
VARIANTS.register("none", Variant("none (no attention)", "none"))
for _score in ("dot", "scaled_dot", "general", "additive", "cosine", "gaussian"):
    VARIANTS.register(_score, Variant(_score, _score))
VARIANTS.register("multihead_scaled_dot", Variant("multi-head scaled_dot", "scaled_dot", multi_head=True))
VARIANTS.register("multihead_additive", Variant("multi-head additive", "additive", multi_head=True))
VARIANTS.register("multihead_dot", Variant("multi-head dot", "dot", multi_head=True))
# Vaswani et al. (2017), section 3.2.1: the scale matters at large key width. One head of d_k=256
# in the same d_model=64 model: queries and keys projected to 256, values stay at d_v = d_model
# (the scaling argument is about q . k alone; widening v too only adds cost and noise).
_KEY_WIDTH_MODELS = ("classifier", "seq2seq_transformer")  # the models with config.attention_key_features
_KEY_256 = (("attention_key_features", 256),)
VARIANTS.register("dot_k256", Variant("dot, d_k=256", "dot", model_fields=_KEY_256, models=_KEY_WIDTH_MODELS))
VARIANTS.register(
    "scaled_dot_k256", Variant("scaled_dot, d_k=256", "scaled_dot", model_fields=_KEY_256, models=_KEY_WIDTH_MODELS)
)
# The pointer-generator's ablation (See et al. 2017): the same attention, no copying.
VARIANTS.register(
    "scaled_dot_no_pointer",
    Variant("scaled_dot, no pointer", "scaled_dot", model_fields=(("pointer", False),), models=("seq2seq_rnn", "seq2seq_transformer")),
)

# The rows of the real-data grids: no attention, every single-head score, every multi-head one.
SCORE_VARIANTS = (
    "none", "dot", "scaled_dot", "general", "additive", "cosine", "gaussian",
    "multihead_scaled_dot", "multihead_additive", "multihead_dot",
)
REFERENCE_VARIANT = "scaled_dot"  # the paired comparison in the table is against this row


def reference_variant(variants: Sequence[str]) -> str:
    """``scaled_dot`` when the grid trains it, else its first attention variant (not ``none``)."""
    if REFERENCE_VARIANT in variants:
        return REFERENCE_VARIANT
    return next((v for v in variants if v != "none"), REFERENCE_VARIANT)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of the grid."""

    benchmark: str  # the grid's benchmark (a table column group), e.g. "sentiment"
    variant: str
    seed: int
    config: ml_collections.ConfigDict

    @property
    def key(self) -> str:
        return run_key(self.config)

    @property
    def name(self) -> str:
        return f"{self.benchmark}/{self.variant}/seed{self.seed}-{self.key}"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_grid(path: str | Path) -> ml_collections.ConfigDict:
    """``get_config()`` of a grid file, checked (:func:`check_grid`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid config {str(path)!r} does not exist; expected a file like experiments/configs/compare_builtin.py")
    module = _module(path, f"grid_{path.stem}")
    if not hasattr(module, "get_config"):
        raise ValueError(f"grid config {str(path)!r} has no get_config() function")
    return check_grid(module.get_config(), path)


@dataclasses.dataclass(frozen=True)
class Contrast:
    """A finding the table tests: ``variant`` minus ``baseline`` on ``benchmark`` (paired, per
    example, seed-matched), against what the ``reference`` paper reports (``expected``: +1
    ``variant`` better, -1 worse, 0 no difference); ``claim`` says it in words for the table.
    ``margin`` (points of the metric, for ``expected=0``): the difference that still counts as
    "similar"; an interval inside ``[-margin, +margin]`` agrees even when it excludes 0."""

    benchmark: str
    variant: str
    baseline: str
    reference: str
    expected: int = 1
    claim: str = ""
    margin: float = 0.0


def contrasts(grid: ml_collections.ConfigDict) -> dict[str, Contrast]:
    """The grid's named contrasts (``grid.contrasts``), in order; {} when it names none."""
    return {name: Contrast(**dict(fields)) for name, fields in (grid.get("contrasts") or {}).items()}


def benchmark_variants(grid: ml_collections.ConfigDict, benchmark: str, variants: Sequence[str]) -> list[str]:
    """The rows of ``variants`` trained on ``benchmark`` (``grid.benchmark_variants``; all by default)."""
    chosen = (grid.get("benchmark_variants") or {}).get(benchmark)
    return list(variants) if chosen is None else [v for v in variants if v in tuple(chosen)]


def check_grid(grid: ml_collections.ConfigDict, path: str | Path) -> ml_collections.ConfigDict:
    """``grid`` when its split, variants and contrasts are known; ValueError naming the file otherwise."""
    if grid.split not in ("test", "validation"):
        raise ValueError(f"{path}: grid.split={grid.split!r}; expected 'test' or 'validation'")
    for name in grid.variants:
        VARIANTS.get(name)
    for benchmark, names in (grid.get("benchmark_variants") or {}).items():
        if benchmark not in grid.benchmarks:
            raise ValueError(
                f"{path}: grid.benchmark_variants names {benchmark!r}, which is not a benchmark; "
                f"expected one of: {', '.join(grid.benchmarks.keys())}"
            )
        for name in names:
            VARIANTS.get(name)
    for name, fields in (grid.get("contrasts") or {}).items():
        try:
            contrast = Contrast(**dict(fields))
        except TypeError as error:
            raise ValueError(f"{path}: grid.contrasts[{name!r}]: {error}; expected the fields of experiments.grid.Contrast") from None
        if contrast.benchmark not in grid.benchmarks:
            raise ValueError(f"{path}: contrast {name!r} is on {contrast.benchmark!r}, which is not a benchmark of the grid")
        for row in (contrast.variant, contrast.baseline):
            try:
                VARIANTS.get(row)
            except ValueError as error:
                raise ValueError(f"{path}: contrast {name!r}: {error}") from None
    return grid


def _set(config: ml_collections.ConfigDict, dotted: str, value: Any) -> None:
    *groups, field = dotted.split(".")
    target = config
    for group in groups:
        if group not in target:
            raise ValueError(f"--set {dotted}: unknown group {group!r}; expected one of {', '.join(sorted(target.keys()))}")
        target = target[group]
    if field not in target and groups != ["data", "options"]:
        raise ValueError(f"--set {dotted}: unknown field {field!r}; expected one of {', '.join(sorted(target.keys()))}")
    with target.unlocked():
        target[field] = value


def expand(
    grid: ml_collections.ConfigDict,
    *,
    variants: Optional[Sequence[str]] = None,
    seeds: Optional[Sequence[int]] = None,
    benchmarks: Optional[Sequence[str]] = None,
    overrides: Sequence[tuple[str, Any]] = (),
) -> list[RunSpec]:
    """Every (benchmark, variant, seed) run, in table order; ``overrides`` are ``(dotted field, value)``
    applied to every benchmark's config (``("train.num_steps", 100)``, ``("data.source", path)``)."""
    asked = list(variants or ())
    variants = asked or list(grid.variants)
    seeds = list(seeds if seeds is not None else grid.seeds)
    names = list(benchmarks or grid.benchmarks.keys())
    for name in names:
        if name not in grid.benchmarks:
            raise ValueError(
                f"unknown benchmark {name!r} in grid {grid.name!r}; expected one of: {', '.join(grid.benchmarks.keys())}"
            )
    # A row asked for by name that no chosen benchmark trains would silently vanish from the run.
    for variant in asked:
        if not any(variant in benchmark_variants(grid, name, [variant]) for name in names):
            rows = {name: benchmark_variants(grid, name, grid.variants) for name in names}
            raise ValueError(
                f"variant {variant!r} is not a row of benchmark(s) {', '.join(map(repr, names))} in grid "
                f"{grid.name!r} (grid.benchmark_variants: "
                + "; ".join(f"{name}: {', '.join(r)}" for name, r in rows.items())
                + "); choose one of those rows, or add it to grid.benchmark_variants in the grid file"
            )
    specs = []
    for benchmark in names:
        base = complete(grid.benchmarks[benchmark])
        for dotted, value in overrides:
            _set(base, dotted, value)
        base.train.progress = False  # the grid shows one bar over all runs
        rows = benchmark_variants(grid, benchmark, variants)
        for variant in rows:
            VARIANTS.get(variant).check_model(variant, base.model.model, benchmark)
        for variant in rows:
            for seed in seeds:
                config = VARIANTS.get(variant).apply(base, grid.heads)
                config.seed = int(seed)
                specs.append(RunSpec(benchmark, variant, int(seed), config))
    return specs
