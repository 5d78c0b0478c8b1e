"""Non-neural baseline rows of the comparison table, registered by name: Lead-n for summarization,
TF-IDF + logistic regression for classification.

A grid names them per benchmark (``grid.baselines = {"summarization": ("lead_3",)}``); each predicts
the same examples of the same split as the trained runs (a trainable one fits on the benchmark's
training split only), is scored by its task's metric code (``attnjax.train.Task.score_predictions``:
accuracy for classification, ROUGE for summarization) and stores its per-example records as
``predictions_<split>.jsonl``, as a trained run does, so the table pairs it with the reference
variant. Results are cached in ``<results>/baselines/``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

from attnjax.files import write_atomic
from attnjax.registry import Registry
from attnjax.train import TASKS
from attnjax.train.baselines import lead_n, require_sklearn, tfidf_logistic_regression
from attnjax.train.inputs import first_examples, open_data
from attnjax.train.workdir import json_lines

Examples = Sequence[dict]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """``predict(training examples, examples) -> one prediction per example`` for runs of task ``kind``."""

    label: str
    kind: str  # the attnjax.train.TASKS name (config.task) it predicts for
    predict: Callable[[Examples, Examples], Sequence]
    trains: bool = False  # fits on the training split (Lead-n reads only the documents it summarizes)
    require: Callable[[], None] = lambda: None  # raises, with the install command, when a dependency is missing
    # Bumped when the same data gives other predictions (a changed fit), so cached rows of the old
    # code are computed again (part of the cache key when > 0).
    revision: int = 0


def _lead(training: Examples, examples: Examples, n: int) -> list[str]:
    del training
    return [lead_n(examples[i]["document"], n) for i in range(len(examples))]


def _tfidf(training: Examples, examples: Examples) -> list[int]:
    predictions = tfidf_logistic_regression(
        [training[i]["text"] for i in range(len(training))],
        [training[i]["label"] for i in range(len(training))],
        [examples[i]["text"] for i in range(len(examples))],
    )
    return [int(p) for p in predictions]


BASELINES: Registry[Baseline] = Registry("baseline")
BASELINES.register("lead_3", Baseline("Lead-3 (first 3 sentences)", "summarization", functools.partial(_lead, n=3)))
BASELINES.register("lead_1", Baseline("Lead-1 (first sentence)", "summarization", functools.partial(_lead, n=1)))
BASELINES.register(
    "tfidf_logreg",
    # Revision 1 (2026-12-08): fitted to the optimum (newton-cg, tol 1e-8) instead of lbfgs at tol 1e-4.
    Baseline("TF-IDF uni+bigrams + logistic regression", "classification", _tfidf, trains=True, require=require_sklearn, revision=1),
)


def check(grid, specs) -> None:
    """Fails, before anything trains, when ``grid.baselines`` names an unknown baseline, one for
    another task, or one whose optional dependency is missing."""
    baselines = grid.get("baselines", {}) or {}
    kinds = {spec.benchmark: spec.config.task for spec in specs}
    for benchmark, names in baselines.items():
        if benchmark not in kinds:
            continue  # a benchmark left out with --benchmarks
        for name in names:
            baseline = BASELINES.get(name)
            if baseline.kind != kinds[benchmark]:
                fitting = [n for n in BASELINES.names() if BASELINES.get(n).kind == kinds[benchmark]]
                raise ValueError(
                    f"grid.baselines[{benchmark!r}] names {name!r}, a {baseline.kind} baseline, but benchmark {benchmark!r} "
                    f"trains {kinds[benchmark]}; expected one of: {', '.join(fitting) or '(none for this task)'}"
                )
            if TASKS.get(kinds[benchmark]).score_predictions is None:
                raise ValueError(
                    f"grid.baselines[{benchmark!r}] names {name!r}, but task {kinds[benchmark]!r} defines no "
                    "score_predictions to score a baseline with; remove the baseline or give the Task one"
                )
            baseline.require()


def _split_examples(source, config, split: str) -> Examples:
    """The examples of ``split`` (``train``, ``validation`` or ``test``) that the trained runs see."""
    data = config.data
    name = {"train": data.train_split, "validation": data.eval_split, "test": data.test_split}[split]
    limit = {"train": data.max_train_examples, "validation": data.max_eval_examples, "test": data.max_test_examples}[split]
    if split != "train":
        limit = TASKS.get(config.task).scored_count(config, limit)
    return first_examples(source, name, limit)


def score(name: str, config, split: str) -> tuple[dict, list[dict]]:
    """``({"metrics", "count"}, per-example records)`` of baseline ``name`` on ``split`` of ``config.data``;
    a trainable baseline fits on the training split only."""
    baseline = BASELINES.get(name)
    source = open_data(config.data)
    examples = _split_examples(source, config, split)
    training = _split_examples(source, config, "train") if baseline.trains else []
    predictions = list(baseline.predict(training, examples))
    num_classes = max(len(source.label_names), 2)
    metrics, records = TASKS.get(config.task).score_predictions(predictions, examples, num_classes)
    return {"metrics": metrics, "count": len(examples)}, records


def compute(grid, specs, root: Path) -> list[dict]:
    """One record per (benchmark, baseline) of the grid, computed once per data config and cached in
    ``<root>/baselines/<benchmark>-<name>-<hash>/`` (``result.json``, ``predictions_<split>.jsonl``)."""
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
            revision = BASELINES.get(name).revision
            key = data_key if not revision else hashlib.sha256(f"{data_key}-r{revision}".encode()).hexdigest()[:12]
            workdir = Path("baselines") / f"{spec.benchmark}-{name}-{key}"
            cache = root / workdir / "result.json"
            if cache.exists():
                result = json.loads(cache.read_text())
            else:
                result, per_example = score(name, spec.config, grid.split)
                cache.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(root / workdir / f"predictions_{grid.split}.jsonl", json_lines(per_example))
                write_atomic(cache, json.dumps(result, indent=1) + "\n")  # last: its presence means the row is complete
            records.append({
                "task": spec.benchmark, "name": name, "label": BASELINES.get(name).label, "split": grid.split,
                "workdir": str(workdir), **result,
            })
    return records
