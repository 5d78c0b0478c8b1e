"""``load_run(workdir)``: a trained run read back from its workdir, ready to apply to new inputs.

>>> run = load_run("runs/sst2")                           # the best validation checkpoint
>>> inputs = run.encode(["a gripping , funny film", "dull"])  # int32 [2, L], 0 = padding
>>> logits = run.model.apply({"params": run.params}, inputs)  # [2, num_classes]

Nothing in the workdir is changed: an unreadable checkpoint is skipped with a warning, never moved
(``train_and_evaluate`` moves it aside when it resumes the run).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from attnjax.data import Tokenizer, load_tokenizer
from attnjax.models import ModelConfig, build_model, example_inputs
from attnjax.train.checkpoints import Checkpointer
from attnjax.train.config import complete
from attnjax.train.inputs import TOKENIZER_DIR
from attnjax.train.logs import LOG_FILE, read_log
from attnjax.train.loop import run_model_config
from attnjax.train.optim import make_optimizer
from attnjax.train.state import TrainState, evaluation_params, initial_state
from attnjax.train.workdir import CONFIG_FILE, RESULTS_FILE

CHECKPOINT_KINDS = ("best", "latest")


@dataclasses.dataclass
class LoadedRun:
    """A run's config, model, parameters and records, as :func:`load_run` read them."""

    workdir: Path
    which: str  # "best" or "latest": the checkpoint ``params`` come from
    config: ml_collections.ConfigDict  # the completed training config (config.json)
    model_config: ModelConfig
    model: nn.Module
    params: Any  # on the first local device
    tokenizer: Tokenizer
    step: int  # the training step of the checkpoint
    results: Optional[dict]  # results.json; None while the run is unfinished
    log: list[dict]  # metrics.jsonl records (attnjax.train.read_log)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids ``[len(texts), L]`` int32 as the run saw them (truncated at
        ``config.data.max_length``), padded with 0 to the longest, ``L``."""
        if isinstance(texts, str) or not len(texts):
            raise ValueError(f"texts must be a non-empty sequence of strings, got {texts!r:.80}")
        rows = self.tokenizer.encode_batch(list(texts), max_length=self.config.data.max_length)
        ids = np.zeros((len(rows), max(1, max(len(r) for r in rows))), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return ids


def _on_first_device(shapes: Any) -> Any:
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), shapes)


def _abstract_state(config: ml_collections.ConfigDict, model: nn.Module, model_config: ModelConfig) -> TrainState:
    """The shapes of the run's TrainState (parameters and optimizer state), computed without allocating."""
    tx, _ = make_optimizer(config.optimizer, config.train.num_steps)
    init = functools.partial(initial_state, model, tx, example_inputs(model_config), config.seed)
    return _on_first_device(jax.eval_shape(init))


def _checkpoint_steps(directory: Path) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit()) if directory.is_dir() else []


def load_run(workdir: str | Path, which: str = "best") -> LoadedRun:
    """Reads the run in ``workdir`` (written by :func:`attnjax.train.train_and_evaluate`).

    Args:
      workdir: the run's directory (``config.json``, ``tokenizer/``, ``checkpoints/``, ...).
      which: ``"best"``: the parameters with the best validation metric (what the run tested);
        ``"latest"``: the newest readable training checkpoint (the final parameters once finished;
        with ``config.optimizer.ema_decay > 0`` their moving average, which evaluation read).

    Raises ValueError for another ``which``, FileNotFoundError when ``workdir`` holds no run
    (no ``config.json``) or no checkpoint of that kind yet, RuntimeError when none of them can be read.
    """
    if which not in CHECKPOINT_KINDS:
        raise ValueError(f"which={which!r}; expected one of: {', '.join(map(repr, CHECKPOINT_KINDS))}")
    workdir = Path(workdir).expanduser().absolute()
    config_path = workdir / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"workdir {str(workdir)!r} holds no run: expected {CONFIG_FILE} there, written when "
            f"train_and_evaluate(config, workdir) starts"
        )
    config = complete(json.loads(config_path.read_text())["config"])
    tokenizer = load_tokenizer(workdir / TOKENIZER_DIR)
    model_config = run_model_config(config, tokenizer.vocab_size)
    model = build_model(model_config)

    checkpoints = workdir / "checkpoints"
    if not _checkpoint_steps(checkpoints / which):
        when = "its first evaluation" if which == "best" else "its first checkpoint (config.train.checkpoint_every)"
        raise FileNotFoundError(
            f"no {which} checkpoint in {str(checkpoints / which)!r}: the run has not reached {when} yet"
        )
    # Creating a Checkpointer creates both of its directories; they exist here once training saved.
    checkpointer = Checkpointer(checkpoints, save_async=False)
    try:
        state = _abstract_state(config, model, model_config)
        if which == "latest":
            restored_state, _ = checkpointer.restore_latest(state, move_unreadable=False)
            params, step = evaluation_params(restored_state), int(restored_state.step)
        else:
            try:
                params, meta = checkpointer.restore_best(state.params, move_unreadable=False)
            except RuntimeError as error:
                raise RuntimeError(
                    f"the best checkpoint in {checkpoints / 'best'} could not be restored ({error}); "
                    f"load_run(workdir, which='latest') reads the training checkpoints instead"
                ) from error
            step = int(meta["step"])
    finally:
        checkpointer.close()

    results_path = workdir / RESULTS_FILE
    return LoadedRun(
        workdir=workdir,
        which=which,
        config=config,
        model_config=model_config,
        model=model,
        params=params,
        tokenizer=tokenizer,
        step=step,
        results=json.loads(results_path.read_text()) if results_path.is_file() else None,
        log=list(read_log(workdir)) if (workdir / LOG_FILE).is_file() else [],
    )
