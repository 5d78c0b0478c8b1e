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

import argparse
import functools
import io
import json
import sys
from pathlib import Path

from attnjax.data.builtin_datasets import builtin_source, sentiment_parts
from experiments.table import load, read_jsonl

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


def _options(record: dict) -> str:
    return json.dumps(record["config"]["data"].get("options") or {}, sort_keys=True)


def run_breakdown(root: Path, record: dict, split: str) -> dict:
    """``{"all": (accuracy x 100, n), kind: (accuracy x 100, n), ...}`` of one stored run."""
    predictions = read_jsonl(root / record["workdir"] / f"predictions_{split}.jsonl")
    if not predictions:
        raise FileNotFoundError(f"{record['workdir']} has no predictions_{split}.jsonl; it was not evaluated on {split!r}")
    parts = _review_parts(_options(record), split)
    out = {"all": (100.0 * sum(p["correct"] for p in predictions) / len(predictions), len(predictions))}
    for name, keep in KINDS:
        correct = [p["correct"] for p in predictions if keep(parts[p["index"]])]
        out[name] = (100.0 * sum(correct) / len(correct), len(correct)) if correct else (None, 0)
    return out


def breakdown(root: str | Path, split: str = "test") -> str:
    """Markdown tables: a row per finished ``builtin:sentiment`` run (grid order), a column per kind;
    one table per set of generator options (runs with other options review other texts)."""
    root = Path(root)
    _, runs, _ = load(root)
    runs = [r for r in runs if r.get("status") == "ok" and r["config"]["data"]["source"] == SOURCE]
    if not runs:
        raise ValueError(f"{str(root)!r} holds no finished runs trained on {SOURCE}; nothing to break down")
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(_options(r), []).append(r)
    out = io.StringIO()
    for options, group in groups.items():
        rows = [(r, run_breakdown(root, r, split)) for r in group]
        counts = rows[0][1]
        which = f"; options {options}" if len(groups) > 1 else ""
        out.write(f"Accuracy x 100 by kind of review ({SOURCE}, {split} split{which}; reviews of each kind in brackets)\n\n")
        out.write("| run | seed | all | " + " | ".join(f"{name} [{counts[name][1]}]" for name, _ in KINDS) + " |\n")
        out.write("|---|---:|---:|" + "---:|" * len(KINDS) + "\n")
        for record, cells in rows:
            values = [cells["all"]] + [cells[name] for name, _ in KINDS]
            text = " | ".join("-" if v is None else f"{v:.1f}" for v, _ in values)
            out.write(f"| {record.get('label') or record['variant']} | {record['seed']} | {text} |\n")
        out.write("\n")
    return out.getvalue().rstrip("\n") + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a results directory written by experiments/compare.py")
    parser.add_argument("--split", default="test", help="the split whose predictions to read (default: test)")
    args = parser.parse_args(argv)
    try:
        print(breakdown(args.results, args.split))
    except (FileNotFoundError, ValueError) as error:
        print(f"sentiment_breakdown.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
