"""``train_and_evaluate(config, workdir)``: the whole run, resumable at any point.

Order of one run: prepare the workdir (resume / stored results / refuse) -> read and tokenize the
data -> build the model and optimizer on a data-parallel mesh -> restore the newest readable
checkpoint -> train, logging every ``log_every`` steps, evaluating every ``eval_every`` (keeping the
best parameters) and checkpointing every ``checkpoint_every`` -> test once on the best parameters ->
``results.json``.
"""

from __future__ import annotations

import dataclasses
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
from attnjax.train.config import as_dict, check_config, complete, run_key
from attnjax.train.inputs import Split, load_run_data
from attnjax.train.logs import MetricLogger
from attnjax.train.optim import make_optimizer
from attnjax.train.state import TrainState
from attnjax.train.steps import make_train_step
from attnjax.train.tasks import TASKS, EvalContext
from attnjax.train.workdir import RESULTS_FILE, check_restart_from_zero, prepare_workdir, write_json, write_json_lines

PREDICTIONS_FILE = "predictions_{split}.jsonl"  # per-example records of the best validation / the test evaluation


class TrainingDivergedError(RuntimeError):
    """The loss or gradient norm became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class Timer:
    """Seconds spent per phase; ``train`` excludes compilation, evaluation and checkpointing."""

    train: float = 0.0
    compile: float = 0.0
    evaluate: float = 0.0
    checkpoint: float = 0.0
    tokens: int = 0
    step_bytes: int = 0  # the largest compiled train step's memory: arguments + outputs + temporaries


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
        self.timer = Timer()
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
        init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(self.config.seed))
        inputs = example_inputs(self.model_config)

        def init(rng):
            params = self.model.init(rng, *inputs)["params"]
            return TrainState.create(params, self.tx, dropout_rng)

        return jax.jit(init, out_shardings=parallel.replicated(self.mesh))(init_rng)

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
            start = time.perf_counter()
            self._compiled[key] = self._step.lower(state, global_batch).compile()
            self.timer.compile += time.perf_counter() - start
            self.timer.step_bytes = max(self.timer.step_bytes, _step_bytes(self._compiled[key]))
        return self._compiled[key](state, global_batch)

    def evaluate(self, params: Any, split: Split) -> tuple[dict, list[dict]]:
        """Metrics of ``params`` on ``split`` and one record per example (see attnjax.train.tasks)."""
        start = time.perf_counter()
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
        records = metrics.pop("per_example", [])
        self.timer.evaluate += time.perf_counter() - start
        return metrics, records


def _step_bytes(compiled: Any) -> int:
    """Device memory one compiled step needs (XLA's own accounting; 0 when the backend has none)."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)
    except Exception:  # noqa: BLE001 - optional diagnostics: some backends do not implement it
        return 0


def _finite(history: list[tuple[int, dict]]) -> Optional[int]:
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
    tc = config.train
    logger = MetricLogger(workdir)
    checkpointer = Checkpointer(workdir / "checkpoints", keep=tc.keep_checkpoints)
    try:
        return _train(run, config, workdir, logger, checkpointer, wall_start, restart)
    finally:
        checkpointer.close()
        logger.close()


def _train(
    run: Run, config: Any, workdir: Path, logger: MetricLogger, checkpointer: Checkpointer, wall_start: float,
    restart: bool,
) -> dict:
    tc, ec = config.train, config.eval
    state = run.init_state()
    iterator = run.train_iterator()
    best: Optional[dict] = None
    last_eval: dict = {}
    start_step = 0
    restored = checkpointer.restore_latest(state)
    if restored is not None:
        state, meta = restored
        iterator.set_state(meta["data"])
        best, last_eval = meta.get("best"), meta.get("last_eval", {})
        start_step = int(state.step)
    else:
        check_restart_from_zero(workdir, config, restart)
        checkpointer.set_aside_best()  # an earlier run's best must not be tested as this run's
    logger.truncate_after(start_step)
    num_params = sum(count_params(state.params).values())

    history: list[tuple[int, dict]] = []  # (step, device metrics) not yet fetched
    interval_start, interval_tokens, interval_compile = time.perf_counter(), 0, run.timer.compile
    progress = tqdm(
        total=tc.num_steps, initial=start_step, disable=not (tc.progress and jax.process_index() == 0),
        desc=f"{config.task} {config.model.attention}", unit="step", dynamic_ncols=True,
    )

    def flush(step: int) -> None:
        """Fetches pending step metrics, stops on a non-finite loss, logs the interval's means."""
        nonlocal history, interval_start, interval_tokens, interval_compile
        if not history:
            return
        fetched = [(s, {k: float(v) for k, v in m.items()}) for s, m in jax.device_get(history)]
        history = []
        bad = _finite(fetched)
        if bad is not None:
            logger.write(bad, "train", {"event": "diverged", **fetched[[s for s, _ in fetched].index(bad)][1]})
            checkpointer.wait()
            last = checkpointer.latest.latest_step()
            raise TrainingDivergedError(
                f"the loss or gradient norm became non-finite at step {bad} "
                f"(loss={fetched[[s for s, _ in fetched].index(bad)][1]['loss']}); the run stopped. The last good "
                f"checkpoint is step {last} in {workdir / 'checkpoints' / 'latest'}. Lower "
                f"config.optimizer.learning_rate (now {config.optimizer.learning_rate}) or enable clipping."
            )
        elapsed = time.perf_counter() - interval_start - (run.timer.compile - interval_compile)
        run.timer.train += elapsed
        run.timer.tokens += interval_tokens
        names = [k for k in fetched[-1][1] if k != "weight"]
        means = {k: float(np.mean([m[k] for _, m in fetched])) for k in names}
        means.update(
            learning_rate=float(run.schedule(step)), steps=len(fetched),
            step_time=elapsed / len(fetched), tokens_per_second=interval_tokens / max(elapsed, 1e-9),
        )
        logger.write(step, "train", means)
        progress.set_postfix(loss=f"{means['loss']:.4f}", refresh=False)
        interval_start, interval_tokens, interval_compile = time.perf_counter(), 0, run.timer.compile

    def pause_interval(seconds_before: float) -> None:
        # Evaluation and checkpointing are not training time.
        nonlocal interval_start
        interval_start += time.perf_counter() - seconds_before

    for step in range(start_step + 1, tc.num_steps + 1):
        batch = next(iterator)
        interval_tokens += _tokens(batch)
        state, metrics = run.train_step(state, batch)
        history.append((step, metrics))
        progress.update(1)
        last = step == tc.num_steps
        if step % tc.log_every == 0 or last:
            flush(step)
        if step % tc.eval_every == 0 or last:
            flush(step)
            paused = time.perf_counter()
            last_eval, records = run.evaluate(state.params, run.data.eval)
            logger.write(step, "validation", last_eval)
            value = float(last_eval[ec.best_metric])
            if _improved(value, best, ec.best_mode):
                best = {"step": step, "metric": ec.best_metric, "value": value, "metrics": last_eval}
                checkpointer.save_best(step, state.params, best)
                write_json_lines(workdir / PREDICTIONS_FILE.format(split="validation"), records)
            pause_interval(paused)
        if step % tc.checkpoint_every == 0 or last:
            flush(step)
            paused = time.perf_counter()
            checkpointer.save_latest(
                step, state, {"data": iterator.get_state(), "best": best, "last_eval": last_eval}
            )
            run.timer.checkpoint += time.perf_counter() - paused
            pause_interval(paused)
    progress.close()
    checkpointer.wait()

    best, best_params = _best_params(run, checkpointer, state, best)
    test = _test(run, best_params, state, best, workdir)
    if test is not None:
        logger.write(tc.num_steps, "test", test)
    timer = run.timer
    results = {
        "run_key": run_key(config),
        "task": config.task,
        "attention": config.model.attention,
        "steps": tc.num_steps,
        "resumed_from_step": start_step,
        "num_params": num_params,
        "validation": last_eval,
        "best": best,
        "test": test if test is not None else {"skipped": run.data.test_skipped},
        "timing": {
            "train_seconds": timer.train,
            "compile_seconds": timer.compile,
            "eval_seconds": timer.evaluate,
            "checkpoint_seconds": timer.checkpoint,
            "wall_seconds": time.perf_counter() - wall_start,
            "tokens_per_second": timer.tokens / timer.train if timer.train > 0 else None,
            "step_time": timer.train / max(tc.num_steps - start_step, 1),
        },
        "memory": {**_peak_memory(), "train_step_bytes": timer.step_bytes or None},
        "devices": {"count": run.mesh.devices.size, "kind": jax.devices()[0].device_kind, "processes": jax.process_count()},
        "config": as_dict(config),
    }
    write_json(workdir / RESULTS_FILE, results)
    return results


def _best_params(run: Run, checkpointer: Checkpointer, state: TrainState, best: Optional[dict]) -> tuple[Optional[dict], Any]:
    """``(best, its parameters)`` from the newest readable best checkpoint; when none can be read any
    more, the final parameters, re-evaluated on validation and saved as the best (with a warning)."""
    if best is None or run.data.test is None:
        return best, state.params
    restored = checkpointer.restore_best(state.params)
    if restored is not None:
        return restored[1], restored[0]
    step = int(state.step)
    warnings.warn(
        f"no readable best checkpoint is left (the best was step {best['step']}); testing the final parameters "
        f"(step {step}) instead, re-evaluated on validation", RuntimeWarning, stacklevel=2,
    )
    metrics, _ = run.evaluate(state.params, run.data.eval)
    fallback = {"step": step, "metric": best["metric"], "value": float(metrics[best["metric"]]), "metrics": metrics,
                "replaces_unreadable_step": best["step"]}
    checkpointer.save_best(step, state.params, fallback)
    checkpointer.wait()
    return fallback, state.params


def _test(run: Run, params: Any, state: TrainState, best: Optional[dict], workdir: Path) -> Optional[dict]:
    """Test metrics of ``params``: the best validation parameters (the final ones when there is no best)."""
    if run.data.test is None:
        return None
    metrics, records = run.evaluate(params, run.data.test)
    write_json_lines(workdir / PREDICTIONS_FILE.format(split="test"), records)
    return {**metrics, "params_from_step": best["step"] if best else int(state.step)}
