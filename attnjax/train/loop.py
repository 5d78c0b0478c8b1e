"""``train_and_evaluate(config, workdir)``: the whole run, resumable at any point.

Order of one run: prepare the workdir (resume / stored results / refuse) -> read and tokenize the
data, build the model and optimizer on a data-parallel mesh (:class:`Run`) -> :func:`restore` the
newest readable checkpoint -> :func:`train_steps`, logging every ``log_every`` steps, evaluating
every ``eval_every`` (keeping the best parameters) and checkpointing every ``checkpoint_every`` ->
:func:`finish`: test once on the best parameters, ``results.json``. A :class:`Chrono` keeps
compiling, evaluating and checkpointing out of the training time.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import resource
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from attnjax.data import BatchIterator
from attnjax.models import build_model, count_params, example_inputs, validate
from attnjax.train import parallel
from attnjax.train.checkpoints import Checkpointer
from attnjax.train.chrono import Chrono
from attnjax.train.config import as_dict, check_config, complete, run_key
from attnjax.train.inputs import Split, load_run_data
from attnjax.train.logs import MetricLogger
from attnjax.train.optim import make_optimizer
from attnjax.train.provenance import code_version
from attnjax.train.state import TrainState, evaluation_params, initial_state
from attnjax.train.steps import make_train_step
from attnjax.train.tasks import TASKS, EvalContext
from attnjax.train.workdir import RESULTS_FILE, check_restart_from_zero, prepare_workdir, write_json, write_json_lines

PREDICTIONS_FILE = "predictions_{split}.jsonl"  # per-example records of the best validation / the test evaluation


class TrainingDivergedError(RuntimeError):
    """The loss or gradient norm became NaN or infinite; the last good checkpoint is kept."""


def run_model_config(config: Any, vocab_size: int):
    """The :class:`attnjax.models.ModelConfig` a run of ``config`` (completed) builds, for its tokenizer's
    ``vocab_size``; ValueError when ``config.model.max_length`` cannot hold what the run feeds."""
    values = config.model.to_dict()
    values["vocab_size"] = vocab_size
    model_config = validate(values)
    longest = TASKS.get(config.task).longest(config)
    if longest > model_config.max_length:
        raise ValueError(
            f"config.model.max_length={model_config.max_length} is shorter than the longest sequence the run feeds "
            f"({longest}: data.bucket_lengths / data.target_bucket_lengths / eval.max_decode_length); raise it"
        )
    return model_config


def _tokens(batch: dict) -> int:
    return int(batch["input_mask"].sum()) + int(batch["target_mask"].sum() if "target_mask" in batch else 0)


def _peak_memory() -> dict:
    device_peaks = [
        (d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.local_devices()
    ]
    device_peaks = [p for p in device_peaks if p is not None]
    return {
        "peak_device_bytes": max(device_peaks) if device_peaks else None,
        # ru_maxrss is in KiB on Linux: the host process's peak resident memory.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


class Run:
    """One training run's moving parts; :func:`train_and_evaluate` drives it."""

    def __init__(self, config: Any, workdir: Path, devices: Optional[Sequence[jax.Device]]):
        self.config, self.workdir = config, workdir
        self.task = TASKS.get(config.task)
        self.mesh = parallel.make_mesh(devices)
        self.train_rows = parallel.per_process_batch_size(config.train.batch_size, self.mesh, "config.train.batch_size")
        self.eval_rows = parallel.per_process_batch_size(config.eval.batch_size, self.mesh, "config.eval.batch_size")
        if config.train.batch_size % (config.train.accumulation_steps * self.mesh.devices.size):
            raise ValueError(
                f"config.train.batch_size={config.train.batch_size} must be a multiple of accumulation_steps "
                f"({config.train.accumulation_steps}) x devices ({self.mesh.devices.size})"
            )
        self.data = load_run_data(config, workdir, self.task)
        self.task = self.task.for_tokenizer(self.data.tokenizer)
        self.model_config = run_model_config(config, self.data.tokenizer.vocab_size)
        self.model = build_model(self.model_config)
        self.tx, self.schedule = make_optimizer(config.optimizer, config.train.num_steps)
        self.chrono = Chrono()
        self.step_bytes = 0  # the largest compiled train step's memory: arguments + outputs + temporaries
        self._compiled: dict = {}
        replicated = parallel.replicated(self.mesh)
        self._step = jax.jit(
            make_train_step(self.task, self.model, self.tx, config.train.accumulation_steps),
            in_shardings=(replicated, parallel.batch_sharded(self.mesh)),
            out_shardings=(replicated, replicated),
            donate_argnums=0,
        )
        task, model, pad_id = self.task, self.model, self.model_config.pad_id
        passthrough = ("example_mask", "example_index", "labels")  # evaluation needs them gathered too
        self._predict = jax.jit(
            lambda params, batch: {
                **task.predict(model, params, batch), **{k: batch[k] for k in passthrough if k in batch},
                "input_length": (batch["inputs"] != pad_id).sum(-1),
            },
            out_shardings=replicated,
        )
        eval_config, tokenizer = config.eval, self.data.tokenizer
        self._decode = None if task.decode is None else jax.jit(
            lambda params, inputs: task.decode(model, params, inputs, eval_config, tokenizer), out_shardings=replicated
        )

    # --- state --------------------------------------------------------------------------------

    def init_state(self) -> TrainState:
        init = functools.partial(initial_state, self.model, self.tx, example_inputs(self.model_config), self.config.seed)
        return jax.jit(init, out_shardings=parallel.replicated(self.mesh))()

    def train_iterator(self) -> BatchIterator:
        data = self.config.data
        return BatchIterator(
            self.data.train.encoded, self.train_rows, bucket_lengths=data.bucket_lengths,
            target_bucket_lengths=data.target_bucket_lengths, seed=self.config.seed,
        )

    # --- steps --------------------------------------------------------------------------------

    def device_batch(self, batch: dict) -> dict:
        return parallel.to_global({k: batch[k] for k in self.task.device_keys}, self.mesh)

    def train_step(self, state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        global_batch = self.device_batch(batch)
        key = tuple((k, v.shape) for k, v in sorted(global_batch.items()))
        if key not in self._compiled:
            with self.chrono.timed("compile"):
                self._compiled[key] = self._step.lower(state, global_batch).compile()
            self.step_bytes = max(self.step_bytes, _step_bytes(self._compiled[key]))
        return self._compiled[key](state, global_batch)

    def evaluate(self, params: Any, split: Split) -> tuple[dict, list[dict]]:
        """Metrics of ``params`` on ``split`` and one record per example (see attnjax.train.tasks)."""
        with self.chrono.timed("evaluate"):
            data = self.config.data
            batches = BatchIterator(
                split.encoded, self.eval_rows, bucket_lengths=data.bucket_lengths,
                target_bucket_lengths=data.target_bucket_lengths, shuffle=False, drop_remainder=False, num_epochs=1,
            )
            context = EvalContext(
                examples=split.examples, tokenizer=self.data.tokenizer, eval_config=self.config.eval,
                decode=lambda inputs: np.asarray(jax.device_get(self._decode(params, inputs))),
                num_classes=self.model_config.num_classes,
            )

            def evaluated() -> Iterator[tuple[dict, dict]]:
                for batch in batches:
                    global_batch = self.device_batch(batch)
                    yield jax.device_get(self._predict(params, global_batch)), global_batch

            metrics = self.task.evaluate(context, evaluated())
        return metrics, metrics.pop("per_example", [])


def _step_bytes(compiled: Any) -> int:
    """Device memory one compiled step needs (XLA's own accounting; 0 when the backend has none)."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - optional diagnostics: some backends do not implement it
        return 0


def _first_non_finite(history: list[tuple[int, dict]]) -> Optional[int]:
    """The first step whose loss or gradient norm is not finite, or None."""
    for step, metrics in history:
        if not (math.isfinite(metrics["loss"]) and math.isfinite(metrics["grad_norm"])):
            return step
    return None


def _improved(value: float, best: Optional[dict], mode: str) -> bool:
    if best is None:
        return True
    return value > best["value"] if mode == "max" else value < best["value"]


def train_and_evaluate(
    config: Any, workdir: str | Path, *, overwrite: bool = False, restart: bool = False,
    devices: Optional[Sequence[jax.Device]] = None,
) -> dict:
    """Trains ``config`` in ``workdir`` (resuming what is there) and returns the results dict.

    Args:
      config: a ConfigDict or nested dict; missing fields take :func:`attnjax.train.default_config`.
      workdir: the run's directory: config, tokenizer, checkpoints, ``metrics.jsonl``, ``results.json``.
      overwrite: delete a workdir holding another config's run instead of refusing (only once the
        new config is checked and its data read: a failing run puts the old one back).
      restart: train from step 0 when the workdir shows earlier training but no checkpoint is left
        to resume from, instead of refusing (see :func:`attnjax.train.workdir.check_restart_from_zero`).
      devices: the mesh's devices (default: all devices of all processes).

    Returns ``results.json``'s content: final validation metrics, the best validation step and
    metrics, test metrics on the best parameters (or why there are none), parameter count, timings
    (train / compile / evaluate seconds, tokens per second, step time) and peak memory.
    """
    wall_start = time.perf_counter()
    config = complete(config)
    check_config(config)
    run_model_config(config, config.data.vocab_size)  # lengths; the real vocab_size comes with the tokenizer
    workdir = Path(workdir).absolute()
    start = prepare_workdir(workdir, config, overwrite)
    if start.stored is not None:
        return start.stored
    try:
        run = Run(config, workdir, devices)
    except BaseException:
        start.abandon()
        raise
    start.commit()
    logger = MetricLogger(workdir)
    checkpointer = Checkpointer(workdir / "checkpoints", keep=config.train.keep_checkpoints)
    try:
        progress = restore(run, checkpointer, logger, restart)
        train_steps(run, progress, logger, checkpointer)
        return finish(run, progress, logger, checkpointer, wall_start)
    finally:
        checkpointer.close()
        logger.close()


@dataclasses.dataclass
class Progress:
    """Where a run stands: its state, the data iterator, the best and the last validation metrics."""

    state: TrainState
    iterator: BatchIterator
    start_step: int = 0  # the step it (re)started from
    best: Optional[dict] = None
    last_eval: dict = dataclasses.field(default_factory=dict)


def restore(run: Run, checkpointer: Checkpointer, logger: MetricLogger, restart: bool = False) -> Progress:
    """A fresh state, or the newest readable checkpoint's (with the iterator's position and the best
    metrics), the log cut back to it. Starting from step 0 where training was done before needs
    ``restart`` (:func:`attnjax.train.workdir.check_restart_from_zero`)."""
    progress = Progress(run.init_state(), run.train_iterator())
    restored = checkpointer.restore_latest(progress.state)
    if restored is not None:
        progress.state, meta = restored
        progress.iterator.set_state(meta["data"])
        progress.best, progress.last_eval = meta.get("best"), meta.get("last_eval", {})
        progress.start_step = int(progress.state.step)
    else:
        check_restart_from_zero(run.workdir, run.config, restart)
        checkpointer.set_aside_best()  # an earlier run's best must not be tested as this run's
    logger.truncate_after(progress.start_step)
    return progress


class _PendingMetrics:
    """Step metrics left on the device until a flush fetches them, checks them and logs their means."""

    def __init__(self, run: Run, logger: MetricLogger, checkpointer: Checkpointer, bar: Any):
        self.run, self.logger, self.checkpointer, self.bar = run, logger, checkpointer, bar
        self.history: list[tuple[int, dict]] = []  # (step, device metrics) not yet fetched

    def add(self, step: int, metrics: dict) -> None:
        self.history.append((step, metrics))

    def flush(self, step: int) -> None:
        """Fetches pending step metrics, stops on a non-finite loss, logs the interval's means."""
        if not self.history:
            return
        fetched = [(s, {k: float(v) for k, v in m.items()}) for s, m in jax.device_get(self.history)]
        self.history = []
        bad = _first_non_finite(fetched)
        if bad is not None:
            self._diverged(bad, dict(fetched)[bad])
        elapsed, tokens = self.run.chrono.lap()
        names = [k for k in fetched[-1][1] if k != "weight"]
        means = {k: float(np.mean([m[k] for _, m in fetched])) for k in names}
        means.update(
            learning_rate=float(self.run.schedule(step)), steps=len(fetched),
            step_time=elapsed / len(fetched), tokens_per_second=tokens / max(elapsed, 1e-9),
        )
        self.logger.write(step, "train", means)
        self.bar.set_postfix(loss=f"{means['loss']:.4f}", refresh=False)

    def _diverged(self, step: int, metrics: dict) -> None:
        self.logger.write(step, "train", {"event": "diverged", **metrics})
        self.checkpointer.wait()
        config = self.run.config
        raise TrainingDivergedError(
            f"the loss or gradient norm became non-finite at step {step} (loss={metrics['loss']}); the run "
            f"stopped. The last good checkpoint is step {self.checkpointer.latest.latest_step()} in "
            f"{self.run.workdir / 'checkpoints' / 'latest'}. Lower config.optimizer.learning_rate (now "
            f"{config.optimizer.learning_rate}) or enable clipping."
        )


def train_steps(run: Run, progress: Progress, logger: MetricLogger, checkpointer: Checkpointer) -> None:
    """Steps from ``progress.start_step`` to ``config.train.num_steps``: logs every ``log_every``,
    evaluates every ``eval_every`` (keeping the best parameters), checkpoints every ``checkpoint_every``."""
    config = run.config
    tc, ec = config.train, config.eval
    bar = tqdm(
        total=tc.num_steps, initial=progress.start_step, disable=not (tc.progress and jax.process_index() == 0),
        desc=f"{config.task} {config.model.attention}", unit="step", dynamic_ncols=True,
    )
    pending = _PendingMetrics(run, logger, checkpointer, bar)
    run.chrono.start()
    for step in range(progress.start_step + 1, tc.num_steps + 1):
        batch = next(progress.iterator)
        run.chrono.count(_tokens(batch))
        progress.state, metrics = run.train_step(progress.state, batch)
        pending.add(step, metrics)
        bar.update(1)
        last = step == tc.num_steps
        if step % tc.log_every == 0 or last:
            pending.flush(step)
        if step % tc.eval_every == 0 or last:
            pending.flush(step)
            with run.chrono.paused():  # evaluation is not training time
                progress.last_eval, records = run.evaluate(evaluation_params(progress.state), run.data.eval)
                logger.write(step, "validation", progress.last_eval)
                value = float(progress.last_eval[ec.best_metric])
                if _improved(value, progress.best, ec.best_mode):
                    progress.best = {"step": step, "metric": ec.best_metric, "value": value, "metrics": progress.last_eval}
                    checkpointer.save_best(step, evaluation_params(progress.state), progress.best)
                    write_json_lines(run.workdir / PREDICTIONS_FILE.format(split="validation"), records)
        if step % tc.checkpoint_every == 0 or last:
            pending.flush(step)
            with run.chrono.timed("checkpoint"):
                checkpointer.save_latest(
                    step, progress.state,
                    {"data": progress.iterator.get_state(), "best": progress.best, "last_eval": progress.last_eval},
                )
    bar.close()
    checkpointer.wait()


def finish(run: Run, progress: Progress, logger: MetricLogger, checkpointer: Checkpointer, wall_start: float) -> dict:
    """Tests the best parameters once, writes ``results.json`` and returns its content."""
    config, state = run.config, progress.state
    progress.best, best_params = _best_params(run, checkpointer, state, progress.best)
    test = _test(run, best_params, state, progress.best)
    if test is not None:
        logger.write(config.train.num_steps, "test", test)
    seconds = run.chrono.seconds
    train_seconds = seconds["train"]
    results = {
        "run_key": run_key(config),
        "task": config.task,
        "attention": config.model.attention,
        "steps": config.train.num_steps,
        "resumed_from_step": progress.start_step,
        "num_params": sum(count_params(state.params).values()),
        "validation": progress.last_eval,
        "best": progress.best,
        "test": test if test is not None else {"skipped": run.data.test_skipped},
        "timing": {
            "train_seconds": train_seconds,
            "compile_seconds": seconds["compile"],
            "eval_seconds": seconds["evaluate"],
            "checkpoint_seconds": seconds["checkpoint"],
            "wall_seconds": time.perf_counter() - wall_start,
            "tokens_per_second": run.chrono.tokens / train_seconds if train_seconds > 0 else None,
            "step_time": train_seconds / max(config.train.num_steps - progress.start_step, 1),
        },
        "memory": {**_peak_memory(), "train_step_bytes": run.step_bytes or None},
        "devices": {"count": run.mesh.devices.size, "kind": jax.devices()[0].device_kind, "processes": jax.process_count()},
        "code": code_version(),
        "config": as_dict(config),
    }
    write_json(run.workdir / RESULTS_FILE, results)
    return results


def _best_params(run: Run, checkpointer: Checkpointer, state: TrainState, best: Optional[dict]) -> tuple[Optional[dict], Any]:
    """``(best, its parameters)`` from the newest readable best checkpoint; when none can be read any
    more, the final parameters, re-evaluated on validation and saved as the best (with a warning)."""
    final = evaluation_params(state)
    if best is None or run.data.test is None:
        return best, final
    restored = checkpointer.restore_best(final)
    if restored is not None:
        return restored[1], restored[0]
    step = int(state.step)
    warnings.warn(
        f"no readable best checkpoint is left (the best was step {best['step']}); testing the final parameters "
        f"(step {step}) instead, re-evaluated on validation", RuntimeWarning, stacklevel=2,
    )
    metrics, _ = run.evaluate(final, run.data.eval)
    fallback = {"step": step, "metric": best["metric"], "value": float(metrics[best["metric"]]), "metrics": metrics,
                "replaces_unreadable_step": best["step"]}
    checkpointer.save_best(step, final, fallback)
    checkpointer.wait()
    return fallback, final


def _test(run: Run, params: Any, state: TrainState, best: Optional[dict]) -> Optional[dict]:
    """Test metrics of ``params``: the best validation parameters (the final ones when there is no best)."""
    if run.data.test is None:
        return None
    metrics, records = run.evaluate(params, run.data.test)
    write_json_lines(run.workdir / PREDICTIONS_FILE.format(split="test"), records)
    return {**metrics, "params_from_step": best["step"] if best else int(state.step)}
