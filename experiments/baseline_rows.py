"""Untrained baseline rows of the comparison table (Lead-n for summarization), registered by name.

A grid names them per benchmark (``grid.baselines = {"summarization": ("lead_3",)}``); each is scored on
the same examples of the same split as the trained runs, with the same ROUGE code
(:class:`attnjax.train.metrics.RougeMetrics`), and cached in ``<results>/baselines/``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Callable

from attnjax.registry import Registry
from attnjax.train.baselines import lead_n
from attnjax.train.inputs import first_examples, open_data
from attnjax.train.metrics import RougeMetrics


@dataclasses.dataclass(frozen=True)
class Baseline:
    label: str
    summarize: Callable[[str], str]  # document -> summary


BASELINES: Registry[Baseline] = Registry("baseline")
BASELINES.register("lead_3", Baseline("Lead-3 (first 3 sentences)", functools.partial(lead_n, n=3)))
BASELINES.register("lead_1", Baseline("Lead-1 (first sentence)", functools.partial(lead_n, n=1)))


def _examples(config, split: str):
    data = config.data
    limit = data.max_test_examples if split == "test" else data.max_eval_examples
    if config.eval.max_decode_examples:  # the trained runs are scored on this many
        limit = min(limit or config.eval.max_decode_examples, config.eval.max_decode_examples)
    examples = first_examples(open_data(data), split, limit)
    return [examples[i] for i in range(len(examples))]


def score(name: str, config, split: str) -> dict:
    """ROUGE of baseline ``name`` on ``split`` of ``config.data``."""
    baseline = BASELINES.get(name)
    examples = _examples(config, split)
    rouge = RougeMetrics()
    rouge.update([baseline.summarize(e["document"]) for e in examples], [e["summary"] for e in examples])
    return {"metrics": rouge.result(), "count": rouge.count}


def compute(grid, specs, root: Path) -> list[dict]:
    """One record per (benchmark, baseline) of the grid, computed once per data config and cached."""
    records = []
    baselines = grid.get("baselines", {}) or {}
    done = set()
    for spec in specs:
        if spec.benchmark in done or spec.benchmark not in baselines:
            continue
        done.add(spec.benchmark)
        data_key = hashlib.sha256(
            json.dumps([spec.config.data.to_dict(), spec.config.eval.max_decode_examples, grid.split], sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        for name in baselines[spec.benchmark]:
            cache = root / "baselines" / f"{spec.benchmark}-{name}-{data_key}.json"
            if cache.exists():
                result = json.loads(cache.read_text())
            else:
                result = score(name, spec.config, grid.split)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(result, indent=1) + "\n")
            records.append({"task": spec.benchmark, "name": name, "label": BASELINES.get(name).label, "split": grid.split, **result})
    return records
