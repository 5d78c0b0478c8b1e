"""What a workdir holds and when a run may start in it.

``config.json`` is written when a run starts and ``results.json`` when it finishes. Starting again
in the same workdir resumes an unfinished run of the same config, returns a finished run's stored
results, and refuses anything else (a different config) unless ``overwrite`` is asked for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Optional

import jax

from attnjax.train.config import as_dict, run_key

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"


def write_json(path: Path, data: Any) -> None:
    """Writes atomically: a kill mid-write leaves the old file, never half a file."""
    if jax.process_index() != 0:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def write_json_lines(path: Path, records: list) -> None:
    """One JSON object per line, written atomically like :func:`write_json`."""
    if jax.process_index() != 0:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    os.replace(tmp, path)


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


def prepare_workdir(workdir: Path, config: Any, overwrite: bool) -> Optional[dict]:
    """Makes ``workdir`` ready; returns the stored results when the same run already finished there."""
    workdir = Path(workdir)
    key = run_key(config)
    config_path, results_path = workdir / CONFIG_FILE, workdir / RESULTS_FILE
    if config_path.exists():
        stored = json.loads(config_path.read_text())
        finished = results_path.exists()
        if stored.get("run_key") == key and finished and not overwrite:
            return json.loads(results_path.read_text())
        if stored.get("run_key") != key and not overwrite:
            changes = config_differences(stored.get("config", {}), as_dict(config))
            state = "a finished" if finished else "an unfinished"
            raise FileExistsError(
                f"workdir {str(workdir)!r} holds {state} run of another config ({'; '.join(changes[:8])}); "
                f"choose another workdir, or pass overwrite=True (--overwrite) to delete it and start again"
            )
        if overwrite:
            if jax.process_index() == 0:
                shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not config_path.exists():
        write_json(config_path, {"run_key": key, "config": as_dict(config)})
    return None
