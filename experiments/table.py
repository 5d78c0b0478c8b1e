"""Comparison tables (and plots) from a results directory written by experiments/compare.py.

    python experiments/table.py results/            # rewrites table.md, table.csv, table.tex, plots/
    python experiments/table.py results/ --no-plots

Reads only what compare.py stored (``grid.json``, ``runs.jsonl``, ``baselines.jsonl`` and each run's
``predictions_<split>.jsonl``, ``metrics.jsonl`` and ``attention.json``), never trains, and writes
the same bytes for the same results.

Table: a row per attention variant, a column group per benchmark (stored as ``task`` in
``runs.jsonl`` and as ``tasks`` in ``grid.json``, the format's older name). Quality: the main
metrics of the benchmark's task (``attnjax.train.Task.main_metrics``: accuracy x 100; ROUGE-1/2/L)
as mean +- std over seeds on the grid's split (the best-validation checkpoint),
and its paired difference to ``scaled_dot`` (the first attention variant when the grid has no
``scaled_dot``) with a 95% bootstrap interval (examples resampled 2,000 times, seed 0; per example,
the seed-matched differences are averaged); one seed shows no std. The named contrasts (a grid's
findings) also show the difference of each seed alone, since the interval does not resample seeds.
Cost: parameters,
training tokens/s, the compiled train step's memory (XLA's count: arguments + outputs +
temporaries) and wall time per run. Bold: the best value of each column among trained variants.
Baseline rows (experiments/baseline_rows.py) have one prediction per example; their paired
difference stands it against every seed of the reference variant. Below the tables, which code
trained the runs (each run's ``results.json`` ``code``, attnjax.train.provenance): one line, or,
when the rows come from different versions of attnjax's sources, which rows each version trained.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from attnjax.train import TASKS
from attnjax.train.provenance import describe, sources

BOOTSTRAP_SAMPLES = 2000


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load(root: Path) -> tuple[dict, list[dict], list[dict]]:
    root = Path(root)
    if not (root / "grid.json").exists() or not (root / "runs.jsonl").exists():
        raise FileNotFoundError(
            f"{str(root)!r} holds no comparison results (grid.json, runs.jsonl); run experiments/compare.py --results {root} first"
        )
    return json.loads((root / "grid.json").read_text()), read_jsonl(root / "runs.jsonl"), read_jsonl(root / "baselines.jsonl")


def split_metrics(record: dict, split: str) -> Optional[dict]:
    """The metrics a run reports on the grid's split (test or best validation)."""
    if record.get("status") != "ok":
        return None
    if split == "test":
        test = record.get("test") or {}
        return None if "skipped" in test else test
    return (record.get("best") or {}).get("metrics")


def task_kind(records: list[dict]) -> str:
    """The :data:`attnjax.train.TASKS` name of the runs (their ``config.task``)."""
    return records[0]["config"]["task"]


def scale(kind: str) -> float:
    """What the tables multiply a task's metrics by: 100 for fractions (accuracy), else 1 (ROUGE)."""
    return 100.0 if TASKS.get(kind).percent else 1.0


def _per_example(root: Path, record: dict, split: str, field: str, factor: float) -> dict[int, float]:
    rows = read_jsonl(root / record["workdir"] / f"predictions_{split}.jsonl")
    return {r["index"]: float(r[field]) * factor for r in rows if field in r}


def _seed_matched_differences(
    root: Path, runs: list[dict], reference: list[dict], split: str, field: str, factor: float
) -> list[tuple[int, np.ndarray]]:
    """Per seed both ran: ``(seed, run - reference)`` of ``field`` x ``factor`` per shared example."""
    ref_by_seed = {r["seed"]: r for r in reference if r.get("status") == "ok"}
    diffs = []
    for run in runs:
        if run.get("status") != "ok" or run["seed"] not in ref_by_seed:
            continue
        a = _per_example(root, run, split, field, factor)
        b = _per_example(root, ref_by_seed[run["seed"]], split, field, factor)
        common = sorted(set(a) & set(b))
        if common:
            diffs.append((run["seed"], np.array([a[i] - b[i] for i in common])))
    return diffs


def paired_bootstrap(
    root: Path, runs: list[dict], reference: list[dict], split: str, field: str, factor: float = 1.0
) -> Optional[tuple[float, float, float]]:
    """Mean per-example difference (run - reference) of ``field`` x ``factor`` and its 95% bootstrap
    interval, seed-matched. The interval resamples examples, not seeds: :func:`_per_seed` shows how
    far the seeds agree."""
    return _pooled(_seed_matched_differences(root, runs, reference, split, field, factor))


def _pooled(differences: list[tuple[int, np.ndarray]]) -> Optional[tuple[float, float, float]]:
    """:func:`bootstrap_interval` of the per-example differences averaged over the seeds (None when
    there are none, or the seeds scored different numbers of examples)."""
    diffs = [d for _, d in differences]
    if not diffs or len({len(d) for d in diffs}) != 1:
        return None
    return bootstrap_interval(np.mean(diffs, axis=0))


def _per_seed(differences: list[tuple[int, np.ndarray]]) -> list[tuple[int, float]]:
    """``(seed, mean difference)`` for each seed, in seed order."""
    return sorted((seed, float(d.mean())) for seed, d in differences)


def bootstrap_interval(per_example: np.ndarray) -> tuple[float, float, float]:
    """The mean of ``per_example`` and its 95% bootstrap interval (seeded: the same for the same values)."""
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(per_example), size=(BOOTSTRAP_SAMPLES, len(per_example)))
    means = per_example[samples].mean(1)
    return float(per_example.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def first_step_reaching(root: Path, record: dict, metric: str, factor: float, target: float) -> Optional[int]:
    """The first validation step at which a run's ``metric`` x ``factor`` reached ``target``; None if never."""
    for entry in read_jsonl(root / record["workdir"] / "metrics.jsonl"):
        if entry.get("split") == "validation" and metric in entry and factor * entry[metric] >= target:
            return int(entry["step"])
    return None


def _baseline_paired(
    root: Path, base: dict, reference: list[dict], split: str, field: str, factor: float
) -> Optional[tuple[float, float, float]]:
    """A baseline row's paired difference to the reference variant: the one baseline prediction per
    example stands against every seed of the reference (rows stored without predictions: None)."""
    if "workdir" not in base or not reference:
        return None
    as_runs = [{"status": "ok", "seed": r["seed"], "workdir": base["workdir"]} for r in reference if r.get("status") == "ok"]
    return paired_bootstrap(root, as_runs, reference, split, field, factor)


def summarize(root: Path, meta: dict, runs: list[dict], baselines: list[dict]) -> list[dict]:
    """One row per (task, variant or baseline) with everything the tables show."""
    rows = []
    split = meta["split"]
    for task in meta["tasks"]:
        task_runs = [r for r in runs if r["task"] == task]
        kind = task_kind(task_runs)
        task_spec, factor = TASKS.get(kind), scale(kind)
        reference = [r for r in task_runs if r["variant"] == meta["reference"]]
        for variant in meta["variants"]:
            group = [r for r in task_runs if r["variant"] == variant]
            if not group:  # a row the grid does not train on this benchmark (grid.benchmark_variants)
                continue
            ok = [r for r in group if split_metrics(r, split) is not None]
            row = {
                "task": task, "kind": kind, "row": variant, "label": group[0]["label"], "trained": True,
                "seeds": len(ok), "seeds_planned": len(group),
                "failed": [f"seed {r['seed']}: {r.get('error') or 'no ' + split + ' metrics'}" for r in group if r not in ok],
            }
            for key, _ in task_spec.main_metrics:
                values = [factor * task_spec.table_scale.get(key, 1.0) * split_metrics(r, split)[key] for r in ok]
                # One seed has no spread to show: std None.
                row[key] = (float(np.mean(values)), float(np.std(values)) if len(values) > 1 else None) if values else None
            row["paired"] = (
                paired_bootstrap(root, ok, reference, split, task_spec.paired_field, factor)
                if variant != meta["reference"] and reference else None
            )
            target = (meta.get("targets") or {}).get(task)
            row["target"] = target
            row["steps_to_target"] = (
                [first_step_reaching(root, r, task_spec.main_metrics[0][0], factor, target) for r in ok] if target is not None else None
            )
            row["num_params"] = ok[0]["num_params"] if ok else None
            row["tokens_per_second"] = _mean([r["timing"]["tokens_per_second"] for r in ok])
            row["step_memory_mib"] = _mean([(r["memory"].get("train_step_bytes") or math.nan) / 2**20 for r in ok])
            row["wall_seconds"] = _mean([r["timing"]["wall_seconds"] for r in ok])
            rows.append(row)
        for base in (b for b in baselines if b["task"] == task):
            row = {"task": task, "kind": kind, "row": base["name"], "label": base["label"], "trained": False,
                   "seeds": 1, "seeds_planned": 1, "failed": [],
                   "paired": _baseline_paired(root, base, reference, split, task_spec.paired_field, factor),
                   "num_params": None, "tokens_per_second": None, "step_memory_mib": None, "wall_seconds": None,
                   "target": None, "steps_to_target": None}
            for key, _ in task_spec.main_metrics:
                row[key] = (factor * task_spec.table_scale.get(key, 1.0) * float(base["metrics"][key]), None)
            rows.append(row)
    return rows


def verdict(expected: int, interval: tuple[float, float, float], margin: float = 0.0) -> str:
    """Whether a paired difference ``(mean, low, high)`` agrees with the direction a paper reports
    (``expected`` +1: the variant better, -1: worse, 0: no difference, where an interval inside
    ``[-margin, +margin]`` also agrees)."""
    _, low, high = interval
    resolved = 1 if low > 0 else -1 if high < 0 else 0
    if expected == 0:
        if resolved != 0 and margin > 0 and -margin <= low and high <= margin:
            return f"agrees (within ±{margin:g})"
        return "agrees (no difference resolved)" if resolved == 0 else f"differs: variant {'ahead' if resolved > 0 else 'behind'}"
    if resolved == 0:
        return "not resolved (the interval includes 0)"
    return "agrees" if resolved == expected else "opposite direction"


def contrast_rows(root: Path, meta: dict, runs: list[dict]) -> list[dict]:
    """One row per contrast of the grid (``meta["contrasts"]``): the paired difference of the
    task's main metric, variant minus baseline, its 95% interval and the verdict."""
    rows = []
    for name, c in (meta.get("contrasts") or {}).items():
        task_runs = [r for r in runs if r["task"] == c["benchmark"]]
        row = {"name": name, **c, "metric": None, "paired": None, "per_seed": [], "verdict": "not trained"}
        variant = [r for r in task_runs if r["variant"] == c["variant"] and split_metrics(r, meta["split"]) is not None]
        baseline = [r for r in task_runs if r["variant"] == c["baseline"] and split_metrics(r, meta["split"]) is not None]
        if variant and baseline:
            kind = task_kind(task_runs)
            spec = TASKS.get(kind)
            row["metric"] = spec.main_metrics[0][1]
            # Read the predictions once for both the pooled interval and each seed's difference.
            differences = _seed_matched_differences(root, variant, baseline, meta["split"], spec.paired_field, scale(kind))
            row["paired"], row["per_seed"] = _pooled(differences), _per_seed(differences)
            row["verdict"] = (
                verdict(c["expected"], row["paired"], c.get("margin", 0.0)) if row["paired"] else "no paired examples"
            )
        rows.append(row)
    return rows


def contrasts_markdown(rows: list[dict], labels: dict) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    out.write("\n### Findings: named contrasts (variant - baseline, paired over examples and seeds)\n\n")
    out.write("| finding | benchmark | variant - baseline | Δ [95% CI] | Δ per seed | reference: what it reports | verdict |\n")
    out.write("|---|---|---|---:|---:|---|---|\n")
    for r in rows:
        delta = f"{r['metric']} {_paired_fmt(r['paired'])}" if r["paired"] else "-"
        per_seed = ", ".join(f"{d:+.1f}" for _, d in r.get("per_seed", [])) or "-"
        pair = f"{labels.get(r['variant'], r['variant'])} - {labels.get(r['baseline'], r['baseline'])}"
        out.write(
            f"| {r['name']} | {r['benchmark']} | {pair} | {delta} | {per_seed} | {r['reference']}: {r['claim']} | {r['verdict']} |\n"
        )
    out.write(
        "\nThe 95% interval resamples the examples (each example's difference averaged over the seeds), so it "
        "says how sure the mean is on these seeds; Δ per seed (in seed order) shows how far other seeds "
        "could move it.\n"
    )
    return out.getvalue()


def _mean(values: list) -> Optional[float]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(values)) if values else None


# --- formatting -------------------------------------------------------------------------------

COST_COLUMNS = (
    ("num_params", "params", "min", lambda v: f"{v / 1e6:.2f}M" if v >= 1e5 else f"{v / 1e3:.1f}k"),
    ("tokens_per_second", "tok/s", "max", lambda v: f"{v:,.0f}"),
    ("step_memory_mib", "step mem", "min", lambda v: f"{v:.1f} MiB"),
    ("wall_seconds", "wall", "min", lambda v: f"{v:.0f} s"),
)


def _best(rows: list[dict], key: str, mode: str) -> Optional[float]:
    values = [r[key][0] if isinstance(r[key], tuple) else r[key] for r in rows if r["trained"] and r[key] is not None]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def _cell(value, best, fmt, bold) -> str:
    if value is None:
        return "-"
    text = fmt(value)
    return bold(text) if best is not None and _close(value[0] if isinstance(value, tuple) else value, best) else text


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def _metric_fmt(value: tuple[float, Optional[float]]) -> str:
    return f"{value[0]:.1f}" if value[1] is None else f"{value[0]:.1f} ± {value[1]:.1f}"


def _steps_fmt(steps: list[Optional[int]]) -> str:
    """Mean step over the seeds that reached the target, and how many did."""
    reached = [s for s in steps if s is not None]
    if not reached:
        return "never"
    mean = f"{np.mean(reached):,.0f}"
    return mean if len(reached) == len(steps) else f"{mean} ({len(reached)}/{len(steps)} seeds)"


def _paired_fmt(value: tuple[float, float, float]) -> str:
    mark = "" if value[1] <= 0 <= value[2] else "*"
    return f"{value[0]:+.1f} [{value[1]:+.1f}, {value[2]:+.1f}]{mark}"


def _layout(meta: dict, rows: list[dict]):
    """Row labels in order, and per task its rows by row name."""
    order = list(dict.fromkeys(r["row"] for r in rows))
    labels = {r["row"]: r["label"] for r in rows}
    by_task = {task: {r["row"]: r for r in rows if r["task"] == task} for task in meta["tasks"]}
    return order, labels, by_task


def markdown(meta: dict, rows: list[dict], contrasts: Optional[list[dict]] = None) -> str:
    order, labels, by_task = _layout(meta, rows)
    bold = lambda text: f"**{text}**"  # noqa: E731
    seeds = ", ".join(str(s) for s in meta["seeds"])
    spread = f"mean ± std over seeds {seeds}" if len(meta["seeds"]) > 1 else f"seed {seeds}"
    out = io.StringIO()
    out.write(f"## {meta['name']}: attention variants ({meta['split']} split, {spread})\n\n")
    header, rule = ["variant"], ["---"]
    for task in meta["tasks"]:
        kind = next(iter(by_task[task].values()))["kind"]
        header += [f"{task} {name}" for _, name in TASKS.get(kind).main_metrics] + [f"{task} Δ{TASKS.get(kind).main_metrics[0][1]} vs {meta['reference']} [95% CI]"]
        rule += ["---:"] * (len(TASKS.get(kind).main_metrics) + 1)
        if task in (meta.get("targets") or {}):
            header.append(f"{task} step to {TASKS.get(kind).main_metrics[0][1]} {meta['targets'][task]:g}")
            rule.append("---:")
    out.write("| " + " | ".join(header) + " |\n|" + "|".join(rule) + "|\n")
    for name in order:
        cells = [labels[name]]
        for task in meta["tasks"]:
            task_rows = list(by_task[task].values())
            kind = task_rows[0]["kind"]
            row = by_task[task].get(name)
            for key, _ in TASKS.get(kind).main_metrics:
                mode = "min" if key in TASKS.get(kind).lower_is_better else "max"
                cells.append(_cell(row[key] if row else None, _best(task_rows, key, mode), _metric_fmt, bold))
            cells.append(_paired_fmt(row["paired"]) if row and row["paired"] else "-")
            if task in (meta.get("targets") or {}):
                cells.append(_steps_fmt(row["steps_to_target"]) if row and row["steps_to_target"] is not None else "-")
        out.write("| " + " | ".join(cells) + " |\n")
    out.write("\n| variant | " + " | ".join(f"{task} {title}" for task in meta["tasks"] for _, title, _, _ in COST_COLUMNS) + " |\n")
    out.write("|---|" + "|".join("---:" for _ in meta["tasks"] for _ in COST_COLUMNS) + "|\n")
    for name in order:
        if not any(by_task[t].get(name, {}).get("trained") for t in meta["tasks"]):
            continue
        cells = [labels[name]]
        for task in meta["tasks"]:
            task_rows = list(by_task[task].values())
            row = by_task[task].get(name)
            for key, _, mode, fmt in COST_COLUMNS:
                cells.append(_cell(row[key] if row else None, _best(task_rows, key, mode), fmt, bold))
        out.write("| " + " | ".join(cells) + " |\n")
    out.write(
        "\nAccuracy and ROUGE x 100. Δ: paired difference to the same-seed "
        f"`{meta['reference']}` run per example, averaged over seeds, with a 95% bootstrap interval "
        "(* = the interval excludes 0). Bold: best trained variant per column (rep. 3-grams: the share "
        "of decoded trigrams that repeat an earlier one in the same summary, lowest). step to X: the first "
        "validation step at which a run reached X (mean over the seeds that did). step mem: XLA's memory "
        "of the compiled training step; wall: per run, including compilation and evaluation.\n"
    )
    if contrasts is not None:
        out.write(contrasts_markdown(contrasts, labels))
    failed = [(task, r["label"], f) for task in meta["tasks"] for r in by_task[task].values() for f in r["failed"]]
    if failed:
        out.write("\nFailed or incomplete runs:\n" + "".join(f"- {t} / {l} / {f}\n" for t, l, f in failed))
    return out.getvalue()


def csv_text(meta: dict, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["task", "variant", "label", "split", "metric", "mean", "std", "seeds", "delta_vs_reference",
                     "ci_low", "ci_high", "num_params", "tokens_per_second", "step_memory_mib", "wall_seconds"])
    for row in rows:
        for i, (key, _) in enumerate(TASKS.get(row["kind"]).main_metrics):
            value = row[key] or (None, None)
            paired = row["paired"] if (row["paired"] and i == 0) else (None, None, None)
            writer.writerow([row["task"], row["row"], row["label"], meta["split"], key, _num(value[0]), _num(value[1]),
                             row["seeds"], *(_num(p) for p in paired), _num(row["num_params"]),
                             _num(row["tokens_per_second"]), _num(row["step_memory_mib"]), _num(row["wall_seconds"])])
    return out.getvalue()


def _num(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, int) else f"{value:.4f}"


def latex(meta: dict, rows: list[dict]) -> str:
    order, labels, by_task = _layout(meta, rows)
    bold = lambda text: "\\textbf{" + text + "}"  # noqa: E731
    tex_metric = lambda v: f"{v[0]:.1f}" if v[1] is None else f"{v[0]:.1f} $\\pm$ {v[1]:.1f}"  # noqa: E731
    columns, header = [], ["Variant"]
    for task in meta["tasks"]:
        kind = next(iter(by_task[task].values()))["kind"]
        columns += ["r"] * len(TASKS.get(kind).main_metrics)
        header += [f"{task} {name}" for _, name in TASKS.get(kind).main_metrics]
    lines = [
        "\\begin{tabular}{l" + "".join(columns) + "}", "\\toprule", " & ".join(_tex(h) for h in header) + " \\\\", "\\midrule",
    ]
    for name in order:
        cells = [_tex(labels[name])]
        for task in meta["tasks"]:
            task_rows = list(by_task[task].values())
            row = by_task[task].get(name)
            spec = TASKS.get(task_rows[0]["kind"])
            for key, _ in spec.main_metrics:
                mode = "min" if key in spec.lower_is_better else "max"
                cells.append(_cell(row[key] if row else None, _best(task_rows, key, mode), tex_metric, bold))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    caption = f"% {meta['name']}: {meta['split']} split, mean $\\pm$ std over seeds {', '.join(map(str, meta['seeds']))}"
    return caption + "\n" + "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    return text.replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")


def _code_versions(runs: list[dict]) -> str:
    """The distinct stored code of ``runs`` (same sources, possibly several commits), in run order."""
    return " / ".join(dict.fromkeys(describe(r.get("code")) for r in runs))


def code_note(runs: list[dict]) -> str:
    """Which code trained the table's finished runs: one line when one version of attnjax's sources
    trained them all, else each version with the rows (benchmark / variant, seeds) it trained."""
    groups: dict[Optional[str], list[dict]] = {}
    for r in runs:
        if r.get("status") == "ok":
            groups.setdefault(sources(r), []).append(r)
    if not groups:
        return ""
    if len(groups) == 1:
        return f"\nCode: every run was trained by attnjax {_code_versions(next(iter(groups.values())))}.\n"
    out = io.StringIO()
    out.write(
        f"\n**Rows from different code**: these runs were trained by {len(groups)} versions of attnjax's sources "
        "(a run key hashes the config only, and compare.py reuses finished runs); a difference between rows "
        "trained by different versions may be the code's:\n"
    )
    for group in groups.values():
        rows: dict[tuple[str, str], list[int]] = {}
        for r in group:
            rows.setdefault((r["task"], r.get("label") or r["variant"]), []).append(r["seed"])
        listed = "; ".join(f"{task} / {label} (seeds {', '.join(map(str, sorted(seeds)))})" for (task, label), seeds in rows.items())
        out.write(f"- {_code_versions(group)}: {listed}\n")
    return out.getvalue()


def build(root: str | Path, plots: bool = True) -> str:
    """Writes ``table.md``, ``table.csv``, ``table.tex`` (and ``plots/``) in ``root``; returns the markdown."""
    root = Path(root)
    meta, runs, baselines = load(root)
    rows = summarize(root, meta, runs, baselines)
    text = markdown(meta, rows, contrast_rows(root, meta, runs)) + code_note(runs)
    (root / "table.md").write_text(text)
    (root / "table.csv").write_text(csv_text(meta, rows))
    (root / "table.tex").write_text(latex(meta, rows))
    if plots:
        from experiments import plots as plot_lib  # matplotlib only when plots are asked for

        plot_lib.build(root, meta, runs)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a results directory written by experiments/compare.py")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    print(build(args.results, plots=not args.no_plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
