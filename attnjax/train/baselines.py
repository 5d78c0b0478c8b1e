"""Extractive summarization baselines, scored with the same ROUGE as the models.

Lead-n takes a document's first ``n`` sentences (:func:`attnjax.train.metrics.split_sentences`).
Lead-3 is the classic CNN/DailyMail baseline (See et al. 2017 report 40.3 / 17.7 / 36.6 ROUGE-1 /
2 / L on the full test set); on a JSON-lines split:

    python -m attnjax.train.baselines ../shared/data/cnn_dailymail/validation.jsonl.gz --n 3
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from typing import Sequence

from attnjax.train.metrics import rouge, split_sentences


def lead_n(document: str, n: int = 3) -> str:
    """The first ``n`` sentences of ``document``, one per line (fewer if it has fewer)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not isinstance(document, str):
        raise ValueError(f"document must be a str, got {type(document).__name__}")
    return "\n".join(split_sentences(document)[:n])


def lead_baseline(documents: Sequence[str], references: Sequence[str], n: int = 3) -> dict:
    """:func:`attnjax.train.metrics.rouge` of :func:`lead_n` of each document against its reference."""
    if isinstance(documents, (str, bytes)):
        raise ValueError(f"documents must be a sequence of strings, got a single {type(documents).__name__}")
    leads = []
    for i, document in enumerate(documents):
        if not isinstance(document, str):
            raise ValueError(f"documents[{i}] must be a str, got {type(document).__name__}")
        leads.append(lead_n(document, n))
    return rouge(leads, references)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Lead-n ROUGE on a JSON-lines file (.gz allowed).")
    parser.add_argument("path")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="score only the first LIMIT rows")
    parser.add_argument("--document-key", default="article")
    parser.add_argument("--reference-key", default="abstract")
    args = parser.parse_args(argv)
    opener = gzip.open if args.path.endswith(".gz") else open
    documents, references = [], []
    with opener(args.path, "rt", encoding="utf-8") as f:
        for line in f:
            if args.limit is not None and len(documents) >= args.limit:
                break
            row = json.loads(line)
            documents.append(row[args.document_key])
            references.append(row[args.reference_key])
    scores = {**lead_baseline(documents, references, args.n), "count": len(documents)}
    json.dump(scores, sys.stdout)
    print()
    return scores


if __name__ == "__main__":
    main()
