"""Train the grid of attention variants on the comparison tasks and write the tables and plots.

    python experiments/compare.py                      # built-in offline tasks, 8 variants x 2 tasks x 3 seeds
    python experiments/compare.py --preset sst2 --data ../shared/data/sst2 --variants dot,additive,multihead_scaled_dot
    python experiments/compare.py --preset cnn_dailymail --data-dir ~/tensorflow_datasets --download
    python experiments/table.py results/               # rebuild tables and plots from what is stored

Every run trains in ``<results>/runs/<task>/<variant>/seed<seed>-<config hash>/`` (an attnjax.train
workdir), so re-running skips finished runs, resumes interrupted ones from their checkpoints and
retries failed ones (recorded in ``error.json`` there; the grid goes on without them). At the end
``<results>/runs.jsonl`` holds every run's config, metrics and timings, and ``experiments/table.py``
writes ``table.md``, ``table.csv``, ``table.tex`` and ``plots/``.

Presets are grid files in ``experiments/configs/``: ``builtin`` (compare_builtin.py), ``sst2``,
``imdb``, ``cnn_dailymail``, ``gigaword``, ``xsum`` (grid_<name>.py); ``--config`` takes any other.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import importlib.util
import json
import multiprocessing
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional, Sequence

from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

import attention_maps  # noqa: E402
import baseline_rows  # noqa: E402
import grid as grid_lib  # noqa: E402
import table  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
PRESETS = {
    "builtin": "compare_builtin.py",
    "sst2": "grid_sst2.py",
    "imdb": "grid_imdb.py",
    "cnn_dailymail": "grid_cnn_dailymail.py",
    "gigaword": "grid_gigaword.py",
    "xsum": "grid_xsum.py",
}
ERROR_FILE = "error.json"


def _value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string: --set data.source=../shared/data/sst2


def _csv(text: Optional[str]) -> Optional[list[str]]:
    return [t for t in text.split(",") if t] if text else None


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="builtin", choices=sorted(PRESETS), help="grid file in experiments/configs/")
    parser.add_argument("--config", default=None, help="a grid file instead of a preset")
    parser.add_argument("--results", default=None, help="output directory (default: results/ for builtin, results/<preset>/ otherwise)")
    parser.add_argument("--variants", default=None, help=f"comma list of {', '.join(grid_lib.VARIANTS.names())}")
    parser.add_argument("--seeds", default=None, help="comma list of seeds (default: the grid's)")
    parser.add_argument("--tasks", default=None, help="comma list of the grid's tasks (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="training steps of every run (train.num_steps)")
    parser.add_argument("--data", default=None, help="data source of every task: a local path or tfds:<name>")
    parser.add_argument("--data-dir", default=None, help="TFDS data_dir")
    parser.add_argument("--download", action="store_true", help="let TFDS download and prepare missing data sets")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field of every run, e.g. --set train.batch_size=64 (repeatable)")
    parser.add_argument("--workers", default="auto",
                        help="runs trained at once, each in its own process; auto: 2 on a CPU-only machine, 1 with an accelerator")
    parser.add_argument("--dry-run", action="store_true", help="list the runs (and which are finished) and stop")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set {item!r}: expected FIELD=VALUE, e.g. train.batch_size=64")
    return args


def grid_path(args: argparse.Namespace) -> Path:
    return Path(args.config) if args.config else CONFIG_DIR / PRESETS[args.preset]


def results_dir(args: argparse.Namespace) -> Path:
    if args.results:
        return Path(args.results)
    return Path("results") if args.preset == "builtin" and not args.config else Path("results") / (
        Path(args.config).stem if args.config else args.preset
    )


def overrides(args: argparse.Namespace) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if args.data:
        out.append(("data.source", args.data))
    if args.data_dir:
        out.append(("data.options.data_dir", str(Path(args.data_dir).expanduser())))
    if args.download:
        out.append(("data.options.download", True))
    if args.steps:
        out.append(("train.num_steps", args.steps))
    for item in args.set:
        field, value = item.split("=", 1)
        out.append((field, _value(value)))
    return out


def _accelerator_installed() -> bool:
    # Without importing jax (which would claim a TPU before the workers can): a TPU or CUDA plugin.
    return any(importlib.util.find_spec(name) is not None for name in ("libtpu", "jax_cuda12_plugin", "jax_cuda13_plugin"))


def worker_count(text: str) -> int:
    if text == "auto":
        return 1 if _accelerator_installed() else max(1, min(2, os.cpu_count() or 1))
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"--workers={text!r}; expected a positive integer or 'auto'")
    return count


# --- one run ----------------------------------------------------------------------------------


def finished(workdir: Path, key: str) -> Optional[dict]:
    """The stored results of a finished run of this config (with its attention maps), else None."""
    results_path = workdir / "results.json"
    if not (results_path.exists() and (workdir / attention_maps.ATTENTION_FILE).exists()):
        return None
    results = json.loads(results_path.read_text())
    return results if results.get("run_key") == key else None


def _quiet() -> None:
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint operation at INFO


def train_one(config_dict: dict, workdir: str, report_split: str) -> dict:
    """Trains one run (resuming what is in ``workdir``) and stores its attention maps.

    Returns ``{"results": ...}`` or ``{"error": ..., "traceback": ...}``; never raises, so one
    failed run does not stop the grid.
    """
    _quiet()
    path = Path(workdir)
    try:
        from attnjax.train import train_and_evaluate

        results = train_and_evaluate(config_dict, path)
        attention_maps.store(path, split=report_split)
        (path / ERROR_FILE).unlink(missing_ok=True)
        return {"results": results}
    except Exception as error:  # noqa: BLE001 - recorded per run; the grid goes on
        record = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        path.mkdir(parents=True, exist_ok=True)
        (path / ERROR_FILE).write_text(json.dumps(record, indent=1) + "\n")
        return record


def _record(spec: grid_lib.RunSpec, outcome: dict) -> dict:
    record = {
        "name": spec.name, "task": spec.task, "variant": spec.variant, "label": grid_lib.VARIANTS.get(spec.variant).label,
        "seed": spec.seed, "run_key": spec.key, "workdir": str(Path("runs") / spec.name),
    }
    if "results" in outcome:
        # The grid's names win over the results' own (results["task"] is the task kind).
        return {**outcome["results"], **record, "status": "ok"}
    from attnjax.train.config import as_dict

    return {**record, "status": "failed", "error": outcome["error"], "config": as_dict(spec.config)}


def run_grid(specs: list[grid_lib.RunSpec], root: Path, workers: int, report_split: str) -> list[dict]:
    """Trains what is not finished; returns one record per spec, in grid order."""
    outcomes: dict[str, dict] = {}
    todo = []
    for spec in specs:
        stored = finished(root / "runs" / spec.name, spec.key)
        if stored is not None:
            outcomes[spec.name] = {"results": stored}
        else:
            todo.append(spec)
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc="grid", unit="run", dynamic_ncols=True)
    failures = 0

    def done(spec: grid_lib.RunSpec, outcome: dict) -> None:
        nonlocal failures
        outcomes[spec.name] = outcome
        failures += "error" in outcome
        if "error" in outcome:
            tqdm.write(f"FAILED {spec.name}: {outcome['error']}")
        bar.set_postfix_str(f"{spec.task}/{spec.variant} seed {spec.seed}" + (f", {failures} failed" if failures else ""))
        bar.update(1)

    if todo:
        from attnjax.train.config import as_dict

        jobs = [(spec, as_dict(spec.config), str(root / "runs" / spec.name)) for spec in todo]
        if workers == 1:
            for spec, config, workdir in jobs:
                done(spec, train_one(config, workdir, report_split))
        else:
            # spawn, not fork: a forked JAX runtime is not safe to use.
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = {pool.submit(train_one, config, workdir, report_split): spec for spec, config, workdir in jobs}
                for future in concurrent.futures.as_completed(futures):
                    done(futures[future], future.result())
    bar.close()
    return [_record(spec, outcomes[spec.name]) for spec in specs]


def write_jsonl(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    os.replace(tmp, path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    grid = grid_lib.load_grid(grid_path(args))
    specs = grid_lib.expand(
        grid, variants=_csv(args.variants), tasks=_csv(args.tasks),
        seeds=[int(s) for s in _csv(args.seeds)] if args.seeds else None, overrides=overrides(args),
    )
    baseline_rows.check(grid, specs)  # an unknown baseline or a missing scikit-learn fails before any training
    root = results_dir(args)
    if args.dry_run:
        for spec in specs:
            state = "finished" if finished(root / "runs" / spec.name, spec.key) else "to run"
            print(f"{spec.name}  [{state}]")
        return 0
    workers = worker_count(args.workers)
    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    print(f"{len(specs)} runs of grid {grid.name!r} in {root}/ with {workers} worker(s)", flush=True)
    _quiet()
    records = run_grid(specs, root, workers, grid.split)
    baselines = baseline_rows.compute(grid, specs, root)
    meta = {
        "name": grid.name, "split": grid.split, "reference": grid_lib.reference_variant([s.variant for s in specs]),
        "tasks": list(dict.fromkeys(s.task for s in specs)), "variants": list(dict.fromkeys(s.variant for s in specs)),
        "seeds": sorted({s.seed for s in specs}), "grid_file": str(grid_path(args)),
    }
    (root / "grid.json").write_text(json.dumps(meta, indent=1) + "\n")
    write_jsonl(root / "runs.jsonl", records)
    write_jsonl(root / "baselines.jsonl", baselines)
    markdown = table.build(root, plots=not args.no_plots)
    print(markdown)
    failed = [r for r in records if r["status"] == "failed"]
    print(f"{len(records) - len(failed)} runs finished, {len(failed)} failed; {time.perf_counter() - start:.0f} s; tables in {root}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
