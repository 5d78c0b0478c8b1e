"""Checkpoints of a run: the latest few (for resuming) and the best by a validation metric.

Layout under ``workdir/checkpoints``:
  ``latest/<step>/``  the whole :class:`TrainState` plus ``meta`` (JSON: the data iterator position,
                       the best metric so far): everything needed to continue bit-exactly;
  ``best/<step>/``     the parameters with the best validation metric, and that metric;
  ``unreadable/``      checkpoints that failed to restore, moved aside (never deleted).

Every checkpoint's ``meta`` also holds a SHA-256 digest of each saved array, taken from the arrays
in memory when the save starts (orbax 0.12 checksums only the index of its data files, not the
data: bytes overwritten inside a data file can restore without an error, as other values).
Restoring recomputes the digests and treats a mismatch as an unreadable checkpoint.

Restoring walks the checkpoints of a kind newest first: one that cannot be read (a partial write, a
corrupted file, a digest mismatch) gives a warning, is moved to ``unreadable/`` and the previous one
is tried. When none is left, ``restore_latest`` / ``restore_best`` return None; whether a run may
then start from step 0 is :func:`attnjax.train.workdir.check_restart_from_zero`'s decision.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

CHECKSUM_KEY = "checksums"  # in a checkpoint's meta: {"sha256": {array path: hex digest}}


class ChecksumMismatchError(ValueError):
    """A restored array differs from the one that was saved."""


def _abstract(tree: Any) -> Any:
    """Shape, dtype and sharding of every leaf: orbax restores into that placement."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def _host_array(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.ascontiguousarray(np.asarray(jax.device_get(leaf)))


def array_digests(tree: Any) -> dict[str, str]:
    """``{path in tree: SHA-256 of dtype, shape and bytes}`` for every leaf of ``tree``."""
    digests = {}
    for path, leaf in jax.tree.leaves_with_path(tree):
        array = _host_array(leaf)
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.reshape(-1).view(np.uint8))  # any dtype (bfloat16 too), no copy
        digests[jax.tree_util.keystr(path)] = digest.hexdigest()
    return digests


def verify_digests(tree: Any, meta: dict) -> None:
    """ChecksumMismatchError naming the arrays of ``tree`` whose digests differ from ``meta``'s.

    A checkpoint written before digests were stored has none and is accepted as it is.
    """
    saved = (meta.get(CHECKSUM_KEY) or {}).get("sha256")
    if saved is None:
        return
    found = array_digests(tree)
    differing = sorted(k for k in set(saved) | set(found) if saved.get(k) != found.get(k))
    if differing:
        raise ChecksumMismatchError(
            f"SHA-256 of {len(differing)} of {len(saved)} arrays differs from the one saved with the "
            f"checkpoint (first: {', '.join(differing[:3])}): its data files changed after it was written"
        )


def _with_digests(tree: Any, meta: dict) -> dict:
    return {**meta, CHECKSUM_KEY: {"sha256": array_digests(tree)}}


def _without_digests(meta: Any) -> dict:
    return {k: v for k, v in dict(meta).items() if k != CHECKSUM_KEY}


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
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(_with_digests(state, meta))
            ),
        )

    def restore_latest(self, like_state: Any, move_unreadable: bool = True) -> Optional[tuple[Any, dict]]:
        """``(state, meta)`` of the newest readable checkpoint; None when there is none (any more).

        ``move_unreadable=False`` (reading a run, not continuing it) leaves unreadable checkpoints
        where they are instead of moving them to ``unreadable/``, and raises RuntimeError when
        checkpoints exist but none can be read.
        """

        def restore(step: int) -> tuple[Any, dict]:
            restored = self.latest.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(_abstract(like_state)), meta=ocp.args.JsonRestore()
                ),
            )
            return restored.state, dict(restored.meta)

        return self._restore_newest("latest", self.latest, restore, move_unreadable)

    def _restore_newest(
        self, kind: str, manager: ocp.CheckpointManager, restore: Callable[[int], tuple[Any, dict]], move_unreadable: bool
    ) -> Optional[tuple[Any, dict]]:
        steps = sorted(manager.all_steps(), reverse=True)
        failures = []
        for step in steps:
            try:
                tree, meta = restore(step)
                verify_digests(tree, meta)
            except Exception as error:  # orbax raises many kinds for truncated or missing files
                failures.append(f"step {step}: {type(error).__name__}: {error}")
                moved = f"moved it to {self._move_aside(kind, manager, step)} and " if move_unreadable else ""
                warnings.warn(
                    f"checkpoint {self.directory / kind / str(step)} could not be restored "
                    f"({type(error).__name__}: {str(error)[:300]}); {moved}trying the previous one",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            return tree, _without_digests(meta)
        if steps and not move_unreadable:
            raise RuntimeError(
                f"none of the checkpoints in {self.directory / kind} could be restored (steps {steps}). "
                f"Errors: " + " | ".join(failures)
            )
        return None

    def _move_aside(self, kind: str, manager: ocp.CheckpointManager, step: int) -> Path:
        source = self.directory / kind / str(step)
        name = f"{step}-{int(time.time())}" if kind == "latest" else f"{kind}-{step}-{int(time.time())}"
        target = self.directory / "unreadable" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if jax.process_index() == 0 and source.exists():
            shutil.move(str(source), str(target))
        # Re-open so the manager forgets the step it listed.
        manager.reload()
        return target

    def set_aside_best(self) -> list[Path]:
        """Moves every best checkpoint to ``unreadable/`` (a run that starts again from step 0
        must not test on an earlier run's best parameters); returns where they went."""
        return [self._move_aside("best", self.best, step) for step in sorted(self.best.all_steps())]

    # --- best ---------------------------------------------------------------------------------

    def save_best(self, step: int, params: Any, meta: dict) -> None:
        if step in self.best.all_steps():
            return
        self.best.save(
            step,
            args=ocp.args.Composite(
                params=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(_with_digests(params, meta))
            ),
        )

    def restore_best(self, like_params: Any, move_unreadable: bool = True) -> Optional[tuple[Any, dict]]:
        """``(params, meta)`` of the newest readable best checkpoint, or None; unreadable ones are
        handled as in :meth:`restore_latest`."""

        def restore(step: int) -> tuple[Any, dict]:
            restored = self.best.restore(
                step,
                args=ocp.args.Composite(
                    params=ocp.args.StandardRestore(_abstract(like_params)), meta=ocp.args.JsonRestore()
                ),
            )
            return restored.params, dict(restored.meta)

        return self._restore_newest("best", self.best, restore, move_unreadable)

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()
