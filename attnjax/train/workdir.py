"""What a workdir holds and when a run may start in it.

``config.json`` is written when a run starts and ``results.json`` when it finishes. Starting again
in the same workdir resumes an unfinished run of the same config, returns a finished run's stored
results, and refuses anything else (a different config) unless ``overwrite`` is asked for. A run
that fails before it trains (bad data, a config error) leaves the workdir as it found it.

A run never silently starts from step 0 over earlier training: when no checkpoint can be resumed
but the workdir shows that one existed (see :func:`earlier_training`), it refuses unless
``restart`` (train again from 0 here) or ``overwrite`` (delete and start afresh) is asked for.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import jax

from attnjax.files import write_atomic
from attnjax.train.config import as_dict, run_key
from attnjax.train.logs import LOG_FILE, read_log

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"


def write_json(path: Path, data: Any) -> None:
    """Writes atomically: a kill mid-write leaves the old file, never half a file."""
    if jax.process_index() == 0:
        write_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def write_json_lines(path: Path, records: list) -> None:
    """One JSON object per line, written atomically like :func:`write_json`."""
    if jax.process_index() == 0:
        write_atomic(path, json_lines(records))


def json_lines(records: list) -> str:
    """One JSON object per line (keys sorted)."""
    return "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records)


def _flat(data: Any, prefix: str = "") -> dict:
    if not isinstance(data, dict):
        return {prefix: data}
    out = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def config_differences(old: dict, new: dict) -> list[str]:
    a, b = _flat(old), _flat(new)
    return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


class RestartRefusedError(RuntimeError):
    """The workdir shows earlier training that nothing readable is left to resume from."""


@dataclasses.dataclass
class WorkdirStart:
    """What :func:`prepare_workdir` did, so that a run failing before it trains can undo it.

    ``stored``: the results of the same run, finished earlier (nothing to do). ``created_workdir``:
    the workdir did not exist before; else ``existing`` names the entries it had. ``previous``: where
    ``overwrite`` moved the old run (None when there was none, or it could only be deleted).
    """

    workdir: Path
    stored: Optional[dict] = None
    created_workdir: bool = False
    existing: frozenset = frozenset()
    previous: Optional[Path] = None

    def abandon(self) -> None:
        """The run failed before training: remove what this start wrote, put back an overwritten run."""
        if jax.process_index() != 0:
            return
        if self.created_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        elif self.workdir.is_dir():
            for entry in self.workdir.iterdir():
                if entry.name not in self.existing:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        if self.previous is not None:
            os.replace(self.previous, self.workdir)

    def commit(self) -> None:
        """The new run is ready to train: delete the run ``overwrite`` replaced."""
        if self.previous is not None and jax.process_index() == 0:
            shutil.rmtree(self.previous)
        self.previous = None


def prepare_workdir(workdir: Path, config: Any, overwrite: bool) -> WorkdirStart:
    """Makes ``workdir`` ready for ``config`` (completed and checked with
    :func:`attnjax.train.config.check_config`); ``.stored`` holds the results when the same run
    already finished there.

    ``overwrite`` moves the old run to a sibling ``.<name>.overwritten`` that
    :meth:`WorkdirStart.commit` deletes once the new run has read its data and built its model,
    and :meth:`WorkdirStart.abandon` puts back if that fails.
    """
    workdir = Path(workdir)
    key = run_key(config)
    config_path, results_path = workdir / CONFIG_FILE, workdir / RESULTS_FILE
    previous = None
    if config_path.exists():
        stored = json.loads(config_path.read_text())
        finished = results_path.exists()
        if stored.get("run_key") == key and finished and not overwrite:
            return WorkdirStart(workdir, stored=json.loads(results_path.read_text()))
        if stored.get("run_key") != key and not overwrite:
            changes = config_differences(stored.get("config", {}), as_dict(config))
            state = "a finished" if finished else "an unfinished"
            raise FileExistsError(
                f"workdir {str(workdir)!r} holds {state} run of another config ({'; '.join(changes[:8])}); "
                f"choose another workdir, or pass overwrite=True (--overwrite) to delete it and start again"
            )
        if overwrite:
            previous = _move_aside(workdir)
    start = WorkdirStart(
        workdir, created_workdir=not workdir.exists(),
        existing=frozenset(p.name for p in workdir.iterdir()) if workdir.is_dir() else frozenset(),
        previous=previous,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    if not config_path.exists():
        write_json(config_path, {"run_key": key, "config": as_dict(config)})
    return start


def _move_aside(workdir: Path) -> Optional[Path]:
    """Renames ``workdir`` to ``.<name>.overwritten`` beside it; deletes it where it cannot be renamed
    (a mount point), which is then the only way to start again in it."""
    previous = workdir.with_name(f".{workdir.name}.overwritten")
    if jax.process_index() != 0:
        return previous
    if previous.exists():  # left by a start that was killed before it could delete it
        shutil.rmtree(previous)
    try:
        os.replace(workdir, previous)
    except OSError:
        for entry in workdir.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        return None
    return previous


def _step_dirs(directory: Path) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.is_dir() else []


def earlier_training(workdir: Path, config: Any) -> list[str]:
    """What in ``workdir`` shows that a run trained there past its first checkpoint.

    Checkpoints left in ``checkpoints/`` (latest, best, unreadable), or log records at or past the
    first checkpoint's step (``config.train.checkpoint_every``, or the last step if earlier): a log
    that stops earlier belongs to a run stopped before it saved anything, which loses nothing by
    starting again.
    """
    checkpoints = Path(workdir) / "checkpoints"
    found = [
        f"{kind} checkpoint(s) of step(s) {steps} in {checkpoints / kind}"
        for kind in ("latest", "best") if (steps := _step_dirs(checkpoints / kind))
    ]
    unreadable = sorted(p.name for p in (checkpoints / "unreadable").iterdir()) if (checkpoints / "unreadable").is_dir() else []
    if unreadable:
        found.append(f"{len(unreadable)} unreadable checkpoint(s) moved to {checkpoints / 'unreadable'} ({', '.join(unreadable[:4])})")
    log = Path(workdir) / LOG_FILE
    last = max((int(r.get("step", 0)) for r in read_log(log)), default=0) if log.is_file() else 0
    first_checkpoint = min(config.train.checkpoint_every, config.train.num_steps)  # the last step saves too
    if last >= first_checkpoint:
        found.append(f"{LOG_FILE} with records up to step {last} (the first checkpoint is due at step {first_checkpoint})")
    return found


def check_restart_from_zero(workdir: Path, config: Any, restart: bool) -> None:
    """RestartRefusedError when ``workdir`` shows earlier training (:func:`earlier_training`) but
    there is no checkpoint to resume from, unless ``restart`` allows training again from step 0."""
    found = earlier_training(workdir, config)
    if found and not restart:
        raise RestartRefusedError(
            f"refusing to restart from step 0 in workdir {str(workdir)!r}: no readable checkpoint is left to resume "
            f"from, but it shows earlier training: {'; '.join(found)}. Pass restart=True (--restart) to train "
            f"again from step 0 in this workdir (what was moved aside stays in checkpoints/unreadable), or "
            f"overwrite=True (--overwrite) to delete the workdir and start afresh"
        )
