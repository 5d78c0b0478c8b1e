"""What each trained run copies of ``builtin:salient_events`` summaries: recall by kind of summary word.

    python experiments/events_breakdown.py results/                      # the default grid's runs, test split
    python experiments/events_breakdown.py results/ --split validation

A summary (attnjax/data/builtin_datasets.py) is two events, ``the <agent> <verb> the <object> near
the <place>`` joined by ``and`` (17 words), or with ``summary_style="telegraphic"`` (the default
grid's) ``<agent> <verb> <object> <place>`` joined by ``;`` (9): agents (256 pseudo-words), objects
and places (200 each) come from the document, verbs from a short list, and the rest (``the``,
``near``, ``and``, ``;``) is the template.
For every finished run of a results directory that trained on ``builtin:salient_events``, this reads
its decoded summaries on the split (``predictions_<split>.jsonl``), regenerates the reference
summaries from the run's own config, and reports the share of each kind of reference word that the
prediction holds (clipped counts, as ROUGE-1 matches them) beside the run's mean ROUGE-1 and the
mean length of its summaries: a row whose ROUGE comes from the
template alone shows 0 in the content columns, and its length says how much of its ROUGE-1 F1 the
precision of extra template words costs. Reads only what
compare.py stored; never trains.
"""

from __future__ import annotations

import functools
import json
import sys
from collections import Counter
from pathlib import Path

from attnjax.data.builtin_datasets import EVENT_VERBS, MANY_AGENTS, OBJECTS, PLACES, builtin_source
from experiments import breakdowns

TASK = "salient_events"
SOURCE = f"builtin:{TASK}"
TEMPLATE = "template words"
WORD_KINDS = {
    **{w: "agents" for w in MANY_AGENTS},
    **{w: "verbs" for w in EVENT_VERBS},
    **{w: "objects" for w in OBJECTS},
    **{w: "places" for w in PLACES},
}
KINDS = ("agents", "verbs", "objects", "places", TEMPLATE)


@functools.lru_cache(maxsize=None)
def _summaries(options: str, split: str) -> tuple[str, ...]:
    """The split's reference summaries as generated with ``options`` (sorted JSON), once per option set."""
    source = builtin_source(TASK, **json.loads(options))
    return tuple(example["summary"] for example in source.readers[split]())


def kind_of(word: str) -> str:
    return WORD_KINDS.get(word, TEMPLATE)


def word_recall(reference: str, prediction: str) -> dict[str, tuple[int, int]]:
    """``{kind: (reference words of that kind the prediction holds, reference words of that kind)}``;
    a word the prediction holds once matches one occurrence in the reference (clipped counts)."""
    left = Counter(prediction.split())
    out = {kind: [0, 0] for kind in KINDS}
    for word in reference.split():
        cell = out[kind_of(word)]
        cell[1] += 1
        if left[word] > 0:
            cell[0] += 1
            left[word] -= 1
    return {kind: (hit, total) for kind, (hit, total) in out.items()}


def run_breakdown(root: Path, record: dict, split: str) -> breakdowns.Cells:
    """``{"R-1": (mean ROUGE-1, n), "words out": (mean predicted words, n), kind: (% of the reference's
    words of that kind the predictions hold, how many there are)}``."""
    rows = breakdowns.predictions(root, record, split)
    references = _summaries(breakdowns.options_key(record), split)
    hits, totals = Counter(), Counter()
    for row in rows:
        for kind, (hit, total) in word_recall(references[row["index"]], row["prediction"]).items():
            hits[kind] += hit
            totals[kind] += total
    out = {"R-1": (sum(row["rouge1"] for row in rows) / len(rows), len(rows)),
           "words out": (sum(len(row["prediction"].split()) for row in rows) / len(rows), len(rows))}
    for kind in KINDS:
        out[kind] = (100.0 * hits[kind] / totals[kind], totals[kind]) if totals[kind] else (None, 0)
    return out


def breakdown(root: str | Path, split: str = "test") -> str:
    """Markdown tables: a row per finished ``builtin:salient_events`` run (grid order), its mean ROUGE-1
    and summary length (summaries counted in brackets) and the recall of each kind of summary word
    (reference words of that kind in brackets)."""
    return breakdowns.tables(root, SOURCE, split, "Recall x 100 by kind of summary word",
                             "summaries or reference words", ("R-1", "words out") + KINDS, run_breakdown)


def main(argv=None) -> int:
    return breakdowns.main(argv, __doc__, "events_breakdown.py", breakdown)


if __name__ == "__main__":
    sys.exit(main())
