"""Non-neural baseline rows of the comparison table, registered by name: Lead-n for summarization,
TF-IDF + logistic regression for classification.

A grid names them per task (``grid.baselines = {"summarization": ("lead_3",)}``); each predicts
the same examples of the same split as the trained runs (a trainable one fits on the task's
training split only), is scored with the metric code of its task kind (accuracy:
:class:`attnjax.train.metrics.ClassificationMetrics`; ROUGE: :class:`attnjax.train.metrics.RougeMetrics`)
and stores its per-example records as ``predictions_<split>.jsonl``, as a trained run does, so
the table pairs it with the reference variant. Results are cached in ``<results>/baselines/``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

from attnjax.data import open_source, split_of
from attnjax.registry import Registry
from attnjax.train.baselines import lead_n, require_sklearn, tfidf_logistic_regression
from attnjax.train.metrics import ClassificationMetrics, RougeMetrics

Examples = Sequence[dict]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """``predict(training examples, examples) -> one prediction per example`` for tasks of ``kind``."""

    label: str
    kind: str  # the config.task it predicts for
    predict: Callable[[Examples, Examples], Sequence]
    trains: bool = False  # fits on the training split (Lead-n reads only the documents it summarizes)
    require: Callable[[], None] = lambda: None  # raises, with the install command, when a dependency is missing


def _lead(training: Examples, examples: Examples, n: int) -> list[str]:
    del training
    return [lead_n(e["document"], n) for e in examples]


def _tfidf(training: Examples, examples: Examples) -> list[int]:
    predictions = tfidf_logistic_regression(
        [e["text"] for e in training], [e["label"] for e in training], [e["text"] for e in examples]
    )
    return [int(p) for p in predictions]


BASELINES: Registry[Baseline] = Registry("baseline")
BASELINES.register("lead_3", Baseline("Lead-3 (first 3 sentences)", "summarization", functools.partial(_lead, n=3)))
BASELINES.register("lead_1", Baseline("Lead-1 (first sentence)", "summarization", functools.partial(_lead, n=1)))
BASELINES.register(
    "tfidf_logreg",
    Baseline("TF-IDF uni+bigrams + logistic regression", "classification", _tfidf, trains=True, require=require_sklearn),
)


@dataclasses.dataclass(frozen=True)
class KindScoring:
    """How a task kind scores predictions: ``score(predictions, examples, num_classes) -> (metrics,
    per-example records)`` and the cap on evaluated examples the trained runs of that kind obey."""

    score: Callable[[Sequence, Examples, int], tuple[dict, list[dict]]]
    limit: Callable[[object, int], int]  # (config, data limit of the split) -> limit (0 = all)


def _score_classification(predictions: Sequence[int], examples: Examples, num_classes: int):
    labels = [e["label"] for e in examples]
    metrics = ClassificationMetrics(num_classes)
    metrics.update(predictions, labels)
    records = [
        {"index": i, "label": int(label), "prediction": int(p), "correct": float(label == p)}
        for i, (label, p) in enumerate(zip(labels, predictions))
    ]
    return {k: v for k, v in metrics.result().items() if k != "count"}, records


def _score_summaries(predictions: Sequence[str], examples: Examples, num_classes: int):
    del num_classes
    metrics = RougeMetrics()
    per_pair = metrics.update(list(predictions), [e["summary"] for e in examples])
    return metrics.result(), [{"index": i, **scores} for i, scores in enumerate(per_pair)]


def _decode_limit(config, limit: int) -> int:
    cap = config.eval.max_decode_examples  # the trained runs decode and score only this many
    return min(limit or cap, cap) if cap else limit


SCORING: Registry[KindScoring] = Registry("baseline task kind")
SCORING.register("classification", KindScoring(_score_classification, lambda config, limit: limit))
SCORING.register("summarization", KindScoring(_score_summaries, _decode_limit))


def check(grid, specs) -> None:
    """Fails, before anything trains, when ``grid.baselines`` names an unknown baseline, one for
    another task kind, or one whose optional dependency is missing."""
    baselines = grid.get("baselines", {}) or {}
    kinds = {spec.task: spec.config.task for spec in specs}
    for task, names in baselines.items():
        if task not in kinds:
            continue  # a task left out with --tasks
        for name in names:
            baseline = BASELINES.get(name)
            if baseline.kind != kinds[task]:
                raise ValueError(
                    f"grid.baselines[{task!r}] names {name!r}, a {baseline.kind} baseline, but task {task!r} is "
                    f"{kinds[task]}; expected one of: {', '.join(n for n in BASELINES.names() if BASELINES.get(n).kind == kinds[task])}"
                )
            baseline.require()


def _split_examples(source, config, split: str) -> list[dict]:
    """The examples of ``split`` (``train``, ``validation`` or ``test``) that the trained runs see."""
    data = config.data
    name = {"train": data.train_split, "validation": data.eval_split, "test": data.test_split}[split]
    limit = {"train": data.max_train_examples, "validation": data.max_eval_examples, "test": data.max_test_examples}[split]
    if split != "train":
        limit = SCORING.get(config.task).limit(config, limit)
    examples = split_of(source, name)
    count = min(limit, len(examples)) if limit else len(examples)
    return [examples[i] for i in range(count)]


def score(name: str, config, split: str) -> tuple[dict, list[dict]]:
    """``({"metrics", "count"}, per-example records)`` of baseline ``name`` on ``split`` of ``config.data``;
    a trainable baseline fits on the training split only."""
    baseline = BASELINES.get(name)
    source = open_source(config.data.source, **config.data.options.to_dict())
    examples = _split_examples(source, config, split)
    training = _split_examples(source, config, "train") if baseline.trains else []
    predictions = list(baseline.predict(training, examples))
    metrics, records = SCORING.get(config.task).score(predictions, examples, max(len(source.label_names), 2))
    return {"metrics": metrics, "count": len(examples)}, records


def _write_jsonl(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    tmp.replace(path)


def compute(grid, specs, root: Path) -> list[dict]:
    """One record per (task, baseline) of the grid, computed once per data config and cached in
    ``<root>/baselines/<task>-<name>-<hash>/`` (``result.json``, ``predictions_<split>.jsonl``)."""
    records = []
    baselines = grid.get("baselines", {}) or {}
    done = set()
    for spec in specs:
        if spec.task in done or spec.task not in baselines:
            continue
        done.add(spec.task)
        data_key = hashlib.sha256(
            json.dumps([spec.config.data.to_dict(), spec.config.eval.max_decode_examples, grid.split], sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        for name in baselines[spec.task]:
            workdir = Path("baselines") / f"{spec.task}-{name}-{data_key}"
            cache = root / workdir / "result.json"
            if cache.exists():
                result = json.loads(cache.read_text())
            else:
                result, per_example = score(name, spec.config, grid.split)
                cache.parent.mkdir(parents=True, exist_ok=True)
                _write_jsonl(root / workdir / f"predictions_{grid.split}.jsonl", per_example)
                cache.write_text(json.dumps(result, indent=1) + "\n")  # last: its presence means the row is complete
            records.append({
                "task": spec.task, "name": name, "label": BASELINES.get(name).label, "split": grid.split,
                "workdir": str(workdir), **result,
            })
    return records
