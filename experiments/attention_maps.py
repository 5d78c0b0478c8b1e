"""Attention weights of a finished run on a few examples, stored for the heatmap plots.

``store(workdir, split)`` loads the run's best parameters (:func:`attnjax.train.load_run`), takes
the first ``count`` examples of ``split`` and writes ``attention.json``:

    {"kind": <config.task>, "split": split, "examples": [...]}

whose examples are what the run's task makes of them (``Task.attention_maps``; e.g. per token
weights for classification, summary x source weights for summarization: see
:mod:`attnjax.train.classification` and :mod:`attnjax.train.summarization`). A model without
attention, or a task that draws none, stores ``"examples": []`` and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from attnjax.train import TASKS, load_run
from attnjax.train.inputs import first_examples, open_data
from attnjax.files import write_atomic

ATTENTION_FILE = "attention.json"


def store(workdir: str | Path, split: str = "validation", count: int = 3) -> dict:
    """Writes ``workdir/attention.json`` (see the module docstring) and returns its content."""
    workdir = Path(workdir)
    run = load_run(workdir, which="best")
    task = TASKS.get(run.config.task)
    examples = first_examples(open_data(run.config.data), split, count)
    examples = [examples[i] for i in range(len(examples))]
    content = {"kind": run.config.task, "examples": []}
    if run.model_config.attention == "none":
        content["reason"] = "the model has no attention"
    elif task.attention_maps is None:
        content["reason"] = f"the {run.config.task} task draws no attention maps"
    else:
        content.update(split=split, examples=task.attention_maps(run, examples))
        if not content["examples"]:
            content["reason"] = "no attention weights were sown (chunked attention sows none)"
    write_atomic(workdir / ATTENTION_FILE, json.dumps(content) + "\n")
    return content
