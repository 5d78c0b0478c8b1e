"""Plots of a comparison (PNG and PDF in ``<results>/plots/``), from stored results only.

- ``learning_curves``: validation main metric and training loss against step, per variant (mean over seeds);
- ``attention_<task>``: attention heatmaps of the first seed's run of each variant on the same
  examples, drawn by the task (``Task.draw_attention``; classification: weight per token;
  summarization: cross-attention, summary x source);
- ``length_<task>``: the main metric against input length (quintiles of the split's lengths);
- ``attention_bench``: forward+backward time per sequence and XLA memory against sequence length,
  parsed from the attention benchmark's stored output (``experiments/benchmarks/attention_bench_cpu.md``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from attnjax.train import TASKS  # noqa: E402
from experiments.table import read_jsonl, scale  # noqa: E402

# The attention benchmark's stored output (experiments/benchmarks/attention_bench.py --out ...).
BENCH_MARKDOWN = Path(__file__).resolve().parent / "benchmarks" / "attention_bench_cpu.md"


def _save(fig, root: Path, name: str) -> list[Path]:
    out = root / "plots"
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    fig.savefig(paths[0], dpi=110, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)
    return paths


def _ok(runs: list[dict], task: str, variant: Optional[str] = None) -> list[dict]:
    return [r for r in runs if r["task"] == task and r.get("status") == "ok" and (variant is None or r["variant"] == variant)]


def _labels(runs: list[dict]) -> dict:
    return {r["variant"]: r["label"] for r in runs}


def learning_curves(root: Path, meta: dict, runs: list[dict]) -> list[Path]:
    tasks = meta["tasks"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 7), squeeze=False)
    labels = _labels(runs)
    for col, task in enumerate(tasks):
        task_runs = _ok(runs, task)
        if not task_runs:
            continue
        metric, title = TASKS.get(task_runs[0]["config"]["task"]).main_metrics[0]
        for variant in meta["variants"]:
            curves = {"validation": [], "train": []}
            for run in _ok(runs, task, variant):
                log = read_jsonl(root / run["workdir"] / "metrics.jsonl")
                curves["validation"].append({r["step"]: r[metric] for r in log if r.get("split") == "validation" and metric in r})
                curves["train"].append({r["step"]: r["loss"] for r in log if r.get("split") == "train" and "loss" in r})
            for row, (split, key) in enumerate((("validation", metric), ("train", "loss"))):
                steps = sorted(set.intersection(*(set(c) for c in curves[split]))) if curves[split] else []
                if steps:
                    values = [np.mean([c[s] for c in curves[split]]) for s in steps]
                    axes[row, col].plot(steps, values, label=labels[variant], marker="o" if row == 0 else None, ms=3)
        axes[0, col].set(title=f"{task}: validation {title}", xlabel="step", ylabel=title)
        axes[1, col].set(title=f"{task}: training loss", xlabel="step", ylabel="loss", yscale="log")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, root, "learning_curves")


def _first_seed_maps(root: Path, runs: list[dict], task: str, variant: str) -> Optional[dict]:
    for run in sorted(_ok(runs, task, variant), key=lambda r: r["seed"]):
        path = root / run["workdir"] / "attention.json"
        if path.exists():
            maps = json.loads(path.read_text())
            if maps.get("examples"):
                return maps
    return None


def attention_heatmaps(root: Path, meta: dict, runs: list[dict], task: str) -> list[Path]:
    labels = _labels(runs)
    maps = {v: m for v in meta["variants"] if (m := _first_seed_maps(root, runs, task, v)) is not None}
    if not maps:
        return []
    draw = TASKS.get(next(iter(maps.values()))["kind"]).draw_attention
    if draw is None:
        return []
    fig = draw({labels[v]: m for v, m in maps.items()}, task)
    fig.tight_layout()
    return _save(fig, root, f"attention_{task}")


def metric_by_length(root: Path, meta: dict, runs: list[dict], task: str) -> list[Path]:
    task_runs = _ok(runs, task)
    if not task_runs:
        return []
    kind = task_runs[0]["config"]["task"]
    field, factor = TASKS.get(kind).paired_field, scale(kind)
    split = meta["split"]
    per_variant = {}
    for variant in meta["variants"]:
        rows = []
        for run in _ok(runs, task, variant):
            rows += read_jsonl(root / run["workdir"] / f"predictions_{split}.jsonl")
        if rows:
            per_variant[variant] = rows
    if not per_variant:
        return []
    lengths = np.array([r["input_length"] for rows in per_variant.values() for r in rows])
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, 6)))
    if len(edges) < 2:
        return []
    labels = _labels(runs)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    centers = (edges[:-1] + edges[1:]) / 2
    for variant, rows in per_variant.items():
        x = np.array([r["input_length"] for r in rows])
        y = np.array([r[field] for r in rows], float) * factor
        bins = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        means = [y[bins == b].mean() if (bins == b).any() else np.nan for b in range(len(edges) - 1)]
        ax.plot(centers, means, marker="o", label=labels[variant])
    name = TASKS.get(kind).main_metrics[0][0]
    ax.set(title=f"{task}: {name} by input length ({split})", xlabel="input length (tokens, bin centre)", ylabel=name)
    ax.legend(fontsize=7)
    return _save(fig, root, f"length_{task}")


_SIZE = {"ms": 1e-3, "s": 1.0, "µs": 1e-6}
TIME_CONTENDERS = ("jax.nn.dot_product_attention", "torch sdpa", "scaled_dot plain", "scaled_dot chunked", "additive chunked")


def parse_bench(text: str) -> dict:
    """The attention benchmark's markdown output -> forward+backward time per sequence and XLA
    temp memory against length: ``{"time": {name: [(L, seconds)]}, "memory": {name: [(L, bytes)]}}``."""
    time_points: dict = {}
    memory_points: dict = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and "x" in cells[0] and cells[1] == "fwd+bwd" and cells[2] in TIME_CONTENDERS:
            value, _, unit = cells[3].partition(" ")
            if unit in _SIZE:
                batch, length = (int(v) for v in cells[0].split("x"))
                time_points.setdefault(cells[2], []).append((length, float(value) * _SIZE[unit] / batch))
        elif len(cells) == 5 and cells[0].isdigit() and cells[2].endswith("GiB"):
            memory_points.setdefault(cells[1], []).append((int(cells[0]), float(cells[2].split()[0]) * 2**30))
    return {"time": time_points, "memory": memory_points}


def bench_plot(root: Path, path: Path = BENCH_MARKDOWN) -> list[Path]:
    if not path.exists():
        return []
    bench = parse_bench(path.read_text())
    if not bench["time"] and not bench["memory"]:
        return []
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, points in sorted(bench["time"].items()):
        points = sorted(points)
        left.plot([p[0] for p in points], [p[1] * 1e3 for p in points], marker="o", label=name)
    left.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="forward+backward per sequence (ms)",
             title="time (B=8 up to 2048, B=1 at 8192; H=8, D=64)")
    for name, points in sorted(bench["memory"].items()):
        points = sorted(points)
        right.plot([p[0] for p in points], [p[1] / 2**30 for p in points], marker="o", label=name)
    right.set(xscale="log", yscale="log", xlabel="sequence length", ylabel="XLA temp memory (GiB)",
              title="forward+backward memory (B=1, H=8, D=64)")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.suptitle(f"attention benchmark: {path.name}", fontsize=9)
    fig.tight_layout()
    return _save(fig, root, "attention_bench")


def build(root: Path, meta: dict, runs: list[dict]) -> list[Path]:
    root = Path(root)
    paths = learning_curves(root, meta, runs)
    for task in meta["tasks"]:
        paths += attention_heatmaps(root, meta, runs, task)
        paths += metric_by_length(root, meta, runs, task)
    paths += bench_plot(root)
    return paths
