"""What the per-example breakdowns of stored runs share (sentiment_breakdown.py, events_breakdown.py).

A breakdown reads the finished runs of a results directory that trained on one built-in task, the
predictions each stored for a split, and the split's examples regenerated from the run's own
``data.options``; it writes one markdown table per set of generator options (runs with other
options saw other examples), a row per run and a column per part of the task. Never trains.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from experiments.table import load, read_jsonl

# A run's cells: column -> (value or None when the column has no examples, how many it counts).
Cells = dict[str, tuple[Optional[float], int]]


def finished_runs(root: Path, source: str) -> list[dict]:
    """The finished runs (``runs.jsonl``, grid order) trained on ``source``; ValueError if none."""
    _, runs, _ = load(root)
    runs = [r for r in runs if r.get("status") == "ok" and r["config"]["data"]["source"] == source]
    if not runs:
        raise ValueError(f"{str(root)!r} holds no finished runs trained on {source}; nothing to break down")
    return runs


def options_key(record: dict) -> str:
    """The run's generator options (``data.options``) as sorted JSON: equal keys, equal examples."""
    return json.dumps(record["config"]["data"].get("options") or {}, sort_keys=True)


def predictions(root: Path, record: dict, split: str) -> list[dict]:
    """The run's stored ``predictions_<split>.jsonl``; FileNotFoundError naming the run if absent."""
    rows = read_jsonl(Path(root) / record["workdir"] / f"predictions_{split}.jsonl")
    if not rows:
        raise FileNotFoundError(f"{record['workdir']} has no predictions_{split}.jsonl; it was not evaluated on {split!r}")
    return rows


def tables(root: str | Path, source: str, split: str, title: str, counted: str, columns: Sequence[str],
           run_cells: Callable[[Path, dict, str], Cells]) -> str:
    """Markdown: per options group, ``title`` then ``| run | seed | <columns> |`` with each column's
    count (``counted``: what it counts; from the group's first run) in brackets; ``-`` where a column
    counts nothing."""
    root = Path(root)
    groups: dict[str, list[dict]] = {}
    for record in finished_runs(root, source):
        groups.setdefault(options_key(record), []).append(record)
    out = io.StringIO()
    for options, group in groups.items():
        rows = [(r, run_cells(root, r, split)) for r in group]
        counts = rows[0][1]
        which = f"; options {options}" if len(groups) > 1 else ""
        out.write(f"{title} ({source}, {split} split{which}; {counted} in brackets)\n\n")
        out.write("| run | seed | " + " | ".join(f"{c} [{counts[c][1]}]" for c in columns) + " |\n")
        out.write("|---|---:|" + "---:|" * len(columns) + "\n")
        for record, cells in rows:
            text = " | ".join("-" if cells[c][0] is None else f"{cells[c][0]:.1f}" for c in columns)
            out.write(f"| {record.get('label') or record['variant']} | {record['seed']} | {text} |\n")
        out.write("\n")
    return out.getvalue().rstrip("\n") + "\n"


def main(argv, doc: str, prog: str, breakdown: Callable[[str, str], str]) -> int:
    """The command line every breakdown script has: ``RESULTS [--split SPLIT]``; prints the tables,
    or a one-line error naming what is missing (exit status 2)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a results directory written by experiments/compare.py")
    parser.add_argument("--split", default="test", help="the split whose predictions to read (default: test)")
    args = parser.parse_args(argv)
    try:
        print(breakdown(args.results, args.split))
    except (FileNotFoundError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    return 0
