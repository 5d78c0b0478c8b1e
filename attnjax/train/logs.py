"""Run logs: JSON lines in ``workdir/metrics.jsonl``, TensorBoard when installed.

Each record is ``{"step": int, "split": "train"|"validation"|"test"|..., <metric>: number, ...}``.
Only process 0 writes. A resumed run first drops the records past the step it resumes from
(they were written by the interrupted run and will be written again, identically).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any, Iterator, Optional

import jax

from attnjax.files import write_atomic

LOG_FILE = "metrics.jsonl"


# Each writer and the packages it needs. torch's writer needs the ``tensorboard`` package too, and
# importing torch to find it missing cost 2.4 s a run (most of a grid's runs are 20-60 s).
_WRITERS = (("tensorboardX", ("tensorboardX",)), ("torch.utils.tensorboard", ("torch", "tensorboard")))


def _summary_writer(directory: Path) -> Optional[Any]:
    """A TensorBoard writer from tensorboardX or torch when either is installed; else None."""
    for module, needs in _WRITERS:
        if not all(importlib.util.find_spec(name) is not None for name in needs):
            continue
        try:
            writer_cls = __import__(module, fromlist=["SummaryWriter"]).SummaryWriter
        except Exception:  # not installed, or installed without its own dependencies
            continue
        return writer_cls(str(directory))
    return None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no nan/inf
    return value


class MetricLogger:
    def __init__(self, workdir: Path, tensorboard: bool = True):
        self.path = Path(workdir) / LOG_FILE
        self.enabled = jax.process_index() == 0
        self.writer = _summary_writer(Path(workdir) / "tensorboard") if (self.enabled and tensorboard) else None

    def truncate_after(self, step: int) -> None:
        """Keeps only records with ``step <= step`` (atomically)."""
        if not self.enabled or not self.path.exists():
            return
        kept = [r for r in read_log(self.path) if r.get("step", 0) <= step]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def write(self, step: int, split: str, metrics: dict) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "split": split, **{k: _plain(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for name, value in record.items():
                if name not in ("step", "split") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{split}/{name}", value, step)
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_log(path: Path) -> Iterator[dict]:
    """Records of a ``metrics.jsonl`` (a last line cut by a kill is skipped)."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_FILE
    with path.open() as f:
        for line in f:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
