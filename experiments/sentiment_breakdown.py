"""Which lookups of ``builtin:sentiment`` each trained run gets right: accuracy by the kind of review.

    python experiments/sentiment_breakdown.py results/                      # the default grid's runs, test split
    python experiments/sentiment_breakdown.py results/ --split validation

The task's label needs several lookups (attnjax/data/builtin_datasets.py): which clause a contrast
word keeps (``although``/``even though``: the first; ``but``/``yet``: the second), whether a negator
flips that clause, and that a hearsay span ``( ... said it was ... )`` does not count. For every
finished run of a results directory that trained on ``builtin:sentiment`` (``runs.jsonl``), this reads
its predictions on the split (``predictions_<split>.jsonl``), regenerates the split's reviews from the
run's own config, and reports its accuracy on each kind of review, so a row that learnt only some of
the lookups (one head of the default grid's sentiment rows, README "The default grid") shows which.
Reads only what compare.py stored; never trains.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from attnjax.data.builtin_datasets import builtin_source, sentiment_parts
from experiments import breakdowns

TASK = "sentiment"
SOURCE = f"builtin:{TASK}"
# (column, predicate on sentiment_parts) in table order.
KINDS = (
    ("one clause", lambda p: p["decides"] == "only"),
    ("first decides", lambda p: p["decides"] == "first"),
    ("second decides", lambda p: p["decides"] == "second"),
    ("negated", lambda p: p["negated"]),
    ("not negated", lambda p: not p["negated"]),
    ("hearsay", lambda p: p["hearsay"]),
    ("no hearsay", lambda p: not p["hearsay"]),
)


@functools.lru_cache(maxsize=None)
def _review_parts(options: str, split: str) -> tuple[dict, ...]:
    """:func:`sentiment_parts` of the split's reviews as generated with ``options`` (``data.options``
    as sorted JSON): once per option set, however many runs share it."""
    source = builtin_source(TASK, **json.loads(options))
    return tuple(sentiment_parts(example["text"]) for example in source.readers[split]())


def run_breakdown(root: Path, record: dict, split: str) -> breakdowns.Cells:
    """``{"all": (accuracy x 100, n), kind: (accuracy x 100, n), ...}`` of one stored run."""
    rows = breakdowns.predictions(root, record, split)
    parts = _review_parts(breakdowns.options_key(record), split)
    out = {"all": (100.0 * sum(p["correct"] for p in rows) / len(rows), len(rows))}
    for name, keep in KINDS:
        correct = [p["correct"] for p in rows if keep(parts[p["index"]])]
        out[name] = (100.0 * sum(correct) / len(correct), len(correct)) if correct else (None, 0)
    return out


def breakdown(root: str | Path, split: str = "test") -> str:
    """Markdown tables: a row per finished ``builtin:sentiment`` run (grid order), a column per kind;
    one table per set of generator options (runs with other options review other texts)."""
    return breakdowns.tables(root, SOURCE, split, "Accuracy x 100 by kind of review", "reviews of each kind",
                             ["all"] + [name for name, _ in KINDS], run_breakdown)


def main(argv=None) -> int:
    return breakdowns.main(argv, __doc__, "sentiment_breakdown.py", breakdown)


if __name__ == "__main__":
    sys.exit(main())
