"""Train the grid of attention variants on the comparison benchmarks and write the tables and plots.

    python experiments/compare.py                      # built-in offline benchmarks, 8 variants x 2 x 3 seeds
    python experiments/compare.py --config experiments/configs/grid_sst2.py --config.seeds=0,1
    python experiments/compare.py --preset sst2 --data ../shared/data/sst2 --variants dot,additive,multihead_scaled_dot
    python experiments/compare.py --preset cnn_dailymail --data-dir ~/tensorflow_datasets --download
    python experiments/table.py results/               # rebuild tables and plots from what is stored

(``python -m experiments.compare ...`` is the same.) The command line is absl flags with
``ml_collections.config_flags``, as for experiments/train.py: ``--config`` names a grid file
(``get_config()`` returns the grid) and ``--config.<field>=<value>`` changes any of its fields,
e.g. ``--config.seeds=0,1``, ``--config.variants=dot,additive`` or
``--config.benchmarks.sentiment.train.num_steps=100``. Shorthands, kept for the commands above:
``--preset NAME`` = ``--config experiments/configs/<preset file>``; ``--variants a,b``,
``--seeds 0,1,2`` and ``--benchmarks a,b`` (or ``--tasks a,b``) choose rows, seeds and column groups; ``--steps N``,
``--data PATH``, ``--data-dir DIR``, ``--download`` and ``--set field=value`` (repeatable) change
every run's training config (``train.num_steps``, ``data.source``, ``data.options.data_dir``,
``data.options.download``, any field).

Every run trains in ``<results>/runs/<benchmark>/<variant>/seed<seed>-<config hash>/`` (an attnjax.train
workdir), so re-running skips finished runs, resumes interrupted ones from their checkpoints and
retries failed ones (recorded in ``error.json`` there; the grid goes on without them). At the end
``<results>/runs.jsonl`` holds every run's config, metrics and timings, and ``experiments/table.py``
writes ``table.md``, ``table.csv``, ``table.tex`` and ``plots/``.

Presets are grid files in ``experiments/configs/``: ``builtin`` (compare_builtin.py), ``sst2``,
``imdb``, ``cnn_dailymail``, ``gigaword``, ``xsum`` (grid_<name>.py); ``--config`` takes any other.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import importlib.util
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Optional, Sequence

from absl import flags
from ml_collections import config_flags
from tqdm.auto import tqdm

from attnjax.files import write_atomic
from attnjax.train.provenance import code_version, describe, sources
from attnjax.train.workdir import json_lines
from experiments import attention_maps, baseline_rows, table
from experiments import grid as grid_lib

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


def _names(values: Sequence[Any]) -> list:
    """``("dot,additive",)`` (``--config.variants=dot,additive``) -> ``["dot", "additive"]``."""
    return [v for item in values for v in (_csv(item) if isinstance(item, str) else [item])]


def define_flags(flag_values: flags.FlagValues, argv: Sequence[str]) -> None:
    """The command line of this script, on ``flag_values`` (``argv`` with the program name first)."""
    config_flags.DEFINE_config_file(
        "config", str(CONFIG_DIR / PRESETS["builtin"]), "grid file (experiments/configs/compare_*.py, grid_*.py)",
        flag_values=flag_values, lock_config=False, sys_argv=list(argv),
    )
    define = dict(flag_values=flag_values)
    flags.DEFINE_enum("preset", None, sorted(PRESETS), "shorthand for --config experiments/configs/<preset file>", **define)
    flags.DEFINE_string("results", None, "output directory (default: results/ for builtin, results/<preset>/ otherwise)", **define)
    flags.DEFINE_string("variants", None, f"comma list of {', '.join(grid_lib.VARIANTS.names())} (= --config.variants)", **define)
    flags.DEFINE_string("seeds", None, "comma list of seeds (= --config.seeds)", **define)
    flags.DEFINE_string("benchmarks", None, "comma list of the grid's benchmarks, its column groups (default: all)", **define)
    flags.DEFINE_alias("tasks", "benchmarks", flag_values=flag_values)
    flags.DEFINE_integer("steps", None, "training steps of every run (train.num_steps)", lower_bound=1, **define)
    flags.DEFINE_string("data", None, "data source of every benchmark: a local path or tfds:<name>", **define)
    flags.DEFINE_string("data-dir", None, "TFDS data_dir", **define)
    flags.DEFINE_bool("download", False, "let TFDS download and prepare missing data sets", **define)
    flags.DEFINE_multi_string("set", [], "FIELD=VALUE: a config field of every run, e.g. --set train.batch_size=64 (repeatable)", **define)
    flags.DEFINE_string("workers", "auto", "runs trained at once, each in its own process; auto: 2 on a CPU-only machine, 1 with an accelerator", **define)
    flags.DEFINE_bool("dry-run", False, "list the runs (and which are finished) and stop", **define)
    flags.DEFINE_bool("no-plots", False, "tables only", **define)


def _given(argv: Sequence[str], name: str) -> Optional[str]:
    """The value of ``--name VALUE`` / ``--name=VALUE`` in ``argv``; ``""`` for a bare ``--name``."""
    for i, arg in enumerate(argv):
        if arg == f"--{name}":
            return argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def parse_flags(argv: Optional[Sequence[str]] = None) -> flags.FlagValues:
    """Parsed flags of ``argv`` (without the program name; default ``sys.argv[1:]``).

    ``--preset NAME`` becomes ``--config <its file>`` before parsing, so ``--config.<field>``
    overrides apply to the preset's grid too. Raises ``flags.Error`` with the reason."""
    argv = list(sys.argv[1:] if argv is None else argv)
    preset, config = _given(argv, "preset"), _given(argv, "config")
    if preset is not None and config is not None:
        raise flags.ValidationError(f"--preset {preset} and --config {config}: give one of them, not both")
    if preset in PRESETS:
        argv = [f"--config={CONFIG_DIR / PRESETS[preset]}", *argv]
    argv = ["compare.py", *argv]
    flag_values = flags.FlagValues()
    define_flags(flag_values, argv)
    rest = flag_values(argv)
    if len(rest) > 1:
        raise flags.ValidationError(f"unexpected arguments {rest[1:]}; every option is a --flag (--help lists them)")
    for item in flag_values.set:
        if "=" not in item:
            raise flags.ValidationError(f"--set {item!r}: expected FIELD=VALUE, e.g. train.batch_size=64")
    grid = flag_values.config
    grid.variants = tuple(_names(grid.variants))
    grid_lib.check_grid(grid, grid_path(flag_values))
    return flag_values


def grid_path(flag_values: flags.FlagValues) -> Path:
    return Path(config_flags.get_config_filename(flag_values["config"]))


def results_dir(flag_values: flags.FlagValues) -> Path:
    if flag_values.results:
        return Path(flag_values.results)
    path = grid_path(flag_values)
    if path.resolve() == (CONFIG_DIR / PRESETS["builtin"]).resolve():
        return Path("results")
    preset = next((name for name, file in PRESETS.items() if (CONFIG_DIR / file).resolve() == path.resolve()), None)
    return Path("results") / (preset or path.stem)


def overrides(flag_values: flags.FlagValues) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if flag_values.data:
        out.append(("data.source", flag_values.data))
    if flag_values["data-dir"].value:
        out.append(("data.options.data_dir", str(Path(flag_values["data-dir"].value).expanduser())))
    if flag_values.download:
        out.append(("data.options.download", True))
    if flag_values.steps:
        out.append(("train.num_steps", flag_values.steps))
    for item in flag_values.set:
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


# How many runs a warning names before "and N more".
NAMED_RUNS = 8


def other_code_warning(stored: dict[str, dict], root: Path, current: dict) -> Optional[str]:
    """The warning for finished runs (``{name: results}``) that code other than ``current`` trained,
    or None when every one was trained by these sources. A run key hashes the config only, so these
    runs are reused as they are; the warning says how to retrain them."""
    other = {name: r.get("code") for name, r in stored.items() if sources(r) != current["source_sha256"]}
    if not other:
        return None
    names = [f"{name} ({describe(code)})" for name, code in list(other.items())[:NAMED_RUNS]]
    more = f", and {len(other) - NAMED_RUNS} more" if len(other) > NAMED_RUNS else ""
    return (
        f"note: {len(other)} of the {len(stored)} finished runs reused from {root}/runs were trained by other code than "
        f"this checkout's ({describe(current)}): {', '.join(names)}{more}. Their results are reused as stored and "
        f"the table says so; to retrain them, delete their directories or pass --results a new directory."
    )


def _quiet() -> None:
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint operation at INFO


COMPILE_CACHE = ".jax_cache"


def _compile_cache(root: Path) -> None:
    """JAX's persistent compilation cache in ``<results>/.jax_cache``: the seeds of a variant
    compile the same programs, so only the first seed pays for compiling (5-10 s a run on a CPU)."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(root / COMPILE_CACHE))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def train_one(config_dict: dict, workdir: str, report_split: str, cache_root: Optional[str] = None) -> dict:
    """Trains one run (resuming what is in ``workdir``) and stores its attention maps; with
    ``cache_root``, compiled programs are cached in ``<cache_root>/.jax_cache``.

    Returns ``{"results": ...}`` or ``{"error": ..., "traceback": ...}``; never raises, so one
    failed run does not stop the grid.
    """
    _quiet()
    path = Path(workdir)
    if cache_root is not None:
        _compile_cache(Path(cache_root))
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
        "name": spec.name, "task": spec.benchmark, "variant": spec.variant, "label": grid_lib.VARIANTS.get(spec.variant).label,
        "seed": spec.seed, "run_key": spec.key, "workdir": str(Path("runs") / spec.name),
    }
    if "results" in outcome:
        # The grid's names win over the results' own: "task" here is the benchmark (the stored
        # format predates the name), results["task"] the task it trains (also config.task).
        return {**outcome["results"], **record, "status": "ok"}
    from attnjax.train.config import as_dict

    return {**record, "status": "failed", "error": outcome["error"], "config": as_dict(spec.config)}


def exit_with_parent(parent_pid: int, poll_seconds: float = 1.0) -> None:
    """Worker initializer: the worker exits once ``parent_pid`` (the grid process) is gone.

    Without it a killed grid (SIGTERM, SIGKILL, a closed Colab cell) leaves its workers training on
    unseen until their current run ends, minutes of both cores; the interrupted run resumes from its
    checkpoint the next time the grid runs.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


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
    warning = other_code_warning({name: o["results"] for name, o in outcomes.items()}, root, code_version())
    if warning:
        print(warning, flush=True)
    bar = tqdm(total=len(specs), initial=len(specs) - len(todo), desc="grid", unit="run", dynamic_ncols=True)
    failures = 0

    def done(spec: grid_lib.RunSpec, outcome: dict) -> None:
        nonlocal failures
        outcomes[spec.name] = outcome
        failures += "error" in outcome
        if "error" in outcome:
            tqdm.write(f"FAILED {spec.name}: {outcome['error']}")
        bar.set_postfix_str(f"{spec.benchmark}/{spec.variant} seed {spec.seed}" + (f", {failures} failed" if failures else ""))
        bar.update(1)

    if todo:
        from attnjax.train.config import as_dict

        jobs = [(spec, as_dict(spec.config), str(root / "runs" / spec.name)) for spec in todo]
        if workers == 1:
            for spec, config, workdir in jobs:
                done(spec, train_one(config, workdir, report_split, str(root)))
        else:
            # spawn, not fork: a forked JAX runtime is not safe to use.
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
            ) as pool:
                futures = {pool.submit(train_one, config, workdir, report_split, str(root)): spec for spec, config, workdir in jobs}
                for future in concurrent.futures.as_completed(futures):
                    done(futures[future], future.result())
    bar.close()
    return [_record(spec, outcomes[spec.name]) for spec in specs]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line ``argv`` (without the program name); 0 when every run finished, 1 otherwise."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(arg in ("-h", "--help", "--helpfull", "--helpshort") for arg in argv):
        flag_values = flags.FlagValues()
        define_flags(flag_values, ["compare.py"])
        print(__doc__ + "\nflags:\n" + flag_values.get_help())
        return 0
    try:
        flag_values = parse_flags(argv)
    except (flags.Error, ValueError, FileNotFoundError) as error:
        print(f"compare.py: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    grid = flag_values.config
    try:  # a row, field or baseline the grid cannot train fails here, before any training
        specs = grid_lib.expand(
            grid, variants=_csv(flag_values.variants), benchmarks=_csv(flag_values.benchmarks),
            seeds=[int(s) for s in _csv(flag_values.seeds) or grid.seeds], overrides=overrides(flag_values),
        )
        baseline_rows.check(grid, specs)  # an unknown baseline or a missing scikit-learn
    except ValueError as error:
        print(f"compare.py: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    root = results_dir(flag_values)
    if flag_values["dry-run"].value:
        for spec in specs:
            state = "finished" if finished(root / "runs" / spec.name, spec.key) else "to run"
            print(f"{spec.name}  [{state}]")
        return 0
    workers = worker_count(flag_values.workers)
    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    print(f"{len(specs)} runs of grid {grid.name!r} in {root}/ with {workers} worker(s)", flush=True)
    _quiet()
    records = run_grid(specs, root, workers, grid.split)
    baselines = baseline_rows.compute(grid, specs, root)
    meta = {
        "name": grid.name, "split": grid.split, "reference": grid_lib.reference_variant([s.variant for s in specs]),
        "tasks": list(dict.fromkeys(s.benchmark for s in specs)),  # the benchmarks, by the stored name
        "variants": list(dict.fromkeys(s.variant for s in specs)),
        "seeds": sorted({s.seed for s in specs}), "grid_file": str(grid_path(flag_values)),
        "contrasts": {name: dataclasses.asdict(c) for name, c in grid_lib.contrasts(grid).items()},
        "targets": dict(grid.get("targets") or {}),
    }
    write_atomic(root / "grid.json", json.dumps(meta, indent=1) + "\n")
    write_atomic(root / "runs.jsonl", json_lines(records))
    write_atomic(root / "baselines.jsonl", json_lines(baselines))
    markdown = table.build(root, plots=not flag_values["no-plots"].value)
    print(markdown)
    failed = [r for r in records if r["status"] == "failed"]
    print(f"{len(records) - len(failed)} runs finished, {len(failed)} failed; {time.perf_counter() - start:.0f} s; tables in {root}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
