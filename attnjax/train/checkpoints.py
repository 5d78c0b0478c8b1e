"""Checkpoints of a run: the latest few (for resuming) and the best by a validation metric.

Layout under ``workdir/checkpoints``:
  ``latest/<step>/``  the whole :class:`TrainState` plus ``meta`` (JSON: the data iterator position,
                       the best metric so far): everything needed to continue bit-exactly;
  ``best/<step>/``     the parameters with the best validation metric, and that metric;
  ``unreadable/``      checkpoints that failed to restore, moved aside (never deleted).

Restoring walks the latest checkpoints newest first: one that cannot be read (a partial write, a
corrupted file) gives a warning, is moved to ``unreadable/`` and the previous one is tried. When
checkpoints exist but none can be read, it raises rather than silently restart from step 0.
"""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp


def _abstract(tree: Any) -> Any:
    """Shape, dtype and sharding of every leaf: orbax restores into that placement."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


class Checkpointer:
    """Saves and restores the latest and best checkpoints of one run."""

    def __init__(self, directory: Path, keep: int = 2, save_async: bool = True):
        self.directory = Path(directory).absolute()
        self.latest = ocp.CheckpointManager(
            self.directory / "latest",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max(keep, 1), create=True, enable_async_checkpointing=save_async
            ),
        )
        self.best = ocp.CheckpointManager(
            self.directory / "best",
            options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True, enable_async_checkpointing=False),
        )

    # --- latest -------------------------------------------------------------------------------

    def save_latest(self, step: int, state: Any, meta: dict) -> None:
        if step in self.latest.all_steps():
            return  # written before an interruption; the run is deterministic, so it is the same
        self.latest.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        )

    def restore_latest(self, like_state: Any, move_unreadable: bool = True) -> Optional[tuple[Any, dict]]:
        """``(state, meta)`` of the newest readable checkpoint, or None when there is none at all.

        ``move_unreadable=False`` (reading a run, not continuing it) leaves unreadable checkpoints
        where they are instead of moving them to ``unreadable/``.
        """
        steps = sorted(self.latest.all_steps(), reverse=True)
        failures = []
        for step in steps:
            try:
                restored = self.latest.restore(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardRestore(_abstract(like_state)), meta=ocp.args.JsonRestore()
                    ),
                )
            except Exception as error:  # orbax raises many kinds for truncated or missing files
                failures.append(f"step {step}: {type(error).__name__}: {error}")
                moved = f"moved it to {self._move_aside(step)} and " if move_unreadable else ""
                warnings.warn(
                    f"checkpoint {self.directory / 'latest' / str(step)} could not be restored "
                    f"({type(error).__name__}: {str(error)[:300]}); {moved}trying the previous one",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            return restored.state, dict(restored.meta)
        if steps:
            raise RuntimeError(
                f"none of the checkpoints in {self.directory / 'latest'} could be restored (steps {steps})"
                + ("; refusing to restart from step 0 over them" if move_unreadable else "")
                + ". Errors: " + " | ".join(failures)
            )
        return None

    def _move_aside(self, step: int) -> Path:
        source = self.directory / "latest" / str(step)
        target = self.directory / "unreadable" / f"{step}-{int(time.time())}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if jax.process_index() == 0 and source.exists():
            shutil.move(str(source), str(target))
        # Re-open so the manager forgets the step it listed.
        self.latest.reload()
        return target

    # --- best ---------------------------------------------------------------------------------

    def save_best(self, step: int, params: Any, meta: dict) -> None:
        if step in self.best.all_steps():
            return
        self.best.save(
            step, args=ocp.args.Composite(params=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(meta))
        )

    def restore_best(self, like_params: Any) -> Optional[tuple[Any, dict]]:
        step = self.best.latest_step()
        if step is None:
            return None
        restored = self.best.restore(
            step,
            args=ocp.args.Composite(params=ocp.args.StandardRestore(_abstract(like_params)), meta=ocp.args.JsonRestore()),
        )
        return restored.params, dict(restored.meta)

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()
