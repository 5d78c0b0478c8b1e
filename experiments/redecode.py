"""Decodes finished summarization runs again, on the same articles, with other decoding settings.

    python experiments/redecode.py RUN_DIR [RUN_DIR ...] --count 1000 --no-repeat-ngram-size 0

Each run's checkpoint (``--which best``, what the run tested, or ``latest``) decodes the first
``--count`` articles of ``--split`` with the run's own eval config, changed by the options given
(e.g. trigram blocking off, to see the repetition it hides). Per run it prints ROUGE (the
evaluation's code, x 100), the share of decoded trigrams that repeat an earlier one of the same
summary, and the **re-attention**: the mean over decoded steps of ``sum_i min(a_i^t, c_i^t)``
(``c^t``: the sum of the earlier steps' attention), the coverage loss of the summary the model
decoded (teacher-forced on its own output; the last decoder layer's cross-attention, heads
averaged), what See et al. (2017)'s coverage trains down (null for a run without attention,
``attention="none"``). With two runs or more, each run's
paired difference in each ROUGE score to the first, with a 95% bootstrap interval over the
articles; ``--stored`` computes those differences from what the runs' evaluation decoded
(``predictions_<split>.jsonl``) without decoding. Writes nothing; ``--json FILE`` writes the
numbers there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from attnjax import ops
from attnjax.train import LoadedRun, load_run
from attnjax.train.inputs import first_examples, open_data
from attnjax.train.metrics import ROUGE_TYPES
from attnjax.train.summarization import decode_with_cross_attention, score_summaries, summary_length
from experiments.table import bootstrap_interval


def reattention(weights: np.ndarray, steps: int) -> float:
    """Mean over the first ``steps`` rows of ``weights [T, S]`` (heads averaged) of the coverage
    loss (:func:`attnjax.ops.coverage_loss`), the coverage before each row summing the earlier rows."""
    if not steps:
        return 0.0
    weights = jnp.asarray(weights[:steps])
    coverage = jnp.cumsum(weights, axis=0) - weights
    return float(ops.coverage_loss(weights[None, None], coverage[None]).mean())


def redecode(run: LoadedRun, articles: list[dict], batch_size: int, changes: dict) -> tuple[dict, list[dict]]:
    """``(summary, records)``: ROUGE and the repeated-trigram share of ``run``'s summaries of
    ``articles`` (:func:`attnjax.train.summarization.score_summaries`), the re-attention beside them."""
    if run.config.task != "summarization":
        raise ValueError(f"{run.workdir} is a {run.config.task!r} run; expected a summarization run")
    eval_config = run.config.eval.copy_and_resolve_references()
    eval_config.update(changes)
    predictions, reattentions = [], []
    for start in range(0, len(articles), batch_size):
        chunk = articles[start:start + batch_size]
        ids = np.zeros((batch_size, run.config.data.max_length), np.int32)  # one shape: one compile
        encoded = run.encode([a["document"] for a in chunk])
        ids[: len(chunk), : encoded.shape[1]] = encoded
        decoded, weights = decode_with_cross_attention(run, jnp.asarray(ids), eval_config)
        for i in range(len(chunk)):
            n = summary_length(decoded[i], run.tokenizer.eos_id)
            predictions.append(run.tokenizer.decode(decoded[i, :n]))
            # A model without attention (attention="none") has no weights: its re-attention is None.
            reattentions.append(None if weights is None else reattention(weights[i].mean(0), n))  # heads averaged
    summary, records = score_summaries(predictions, articles, 0)
    for record, prediction, value in zip(records, predictions, reattentions):
        record.update(prediction=prediction, reattention=value)
    mean_reattention = None if None in reattentions else float(np.mean(reattentions))
    return {**summary, "reattention": mean_reattention, "decoded": len(records)}, records


def stored_records(workdir: Path, split: str, count: int) -> list[dict]:
    """The first ``count`` per-example records of what the run's evaluation decoded."""
    path = workdir / f"predictions_{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the run has not evaluated {split!r}; drop --stored to decode")
    records = sorted((json.loads(line) for line in path.read_text().splitlines() if line.strip()), key=lambda r: r["index"])
    return records[:count]


def paired_difference(a: list[dict], b: list[dict], field: str = "rouge1") -> tuple[float, float, float]:
    """Mean of ``a - b`` over the articles and its 95% bootstrap interval (the tables' bootstrap)."""
    return bootstrap_interval(np.array([x[field] - y[field] for x, y in zip(a, b)]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (compare.py's runs/<benchmark>/<variant>/seed*)")
    parser.add_argument("--count", type=int, default=500, help="how many articles, from the split's first")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--which", choices=("best", "latest"), default="best")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-repeat-ngram-size", type=int, help="n-gram blocking (0: off); default: the run's")
    parser.add_argument("--min-decode-length", type=int, help="default: the run's")
    parser.add_argument("--stored", action="store_true",
                        help="score the runs' stored predictions_<split>.jsonl (what evaluation decoded) instead of decoding")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    for path in args.runs:
        if not (path / "config.json").is_file():
            parser.error(f"{path} holds no run (no config.json); pass a run directory, e.g. results/<preset>/runs/<benchmark>/<variant>/seed0-<key>")
    if args.count < 1 or args.batch_size < 1:
        parser.error(f"--count={args.count} and --batch-size={args.batch_size}; expected positive integers")
    changes = {k: v for k, v in (("no_repeat_ngram_size", args.no_repeat_ngram_size),
                                 ("min_decode_length", args.min_decode_length)) if v is not None}
    if args.stored and changes:
        parser.error(f"--stored scores what the runs decoded; it takes no decoding options (got {sorted(changes)})")
    results = {}
    if args.stored:
        for path in args.runs:
            records = stored_records(path, args.split, args.count)
            results[str(path)] = {"summary": {"decoded": len(records)}, "records": records}
    else:
        runs = [load_run(path, args.which) for path in args.runs]
        articles = first_examples(open_data(runs[0].config.data), args.split, args.count)
        articles = [articles[i] for i in range(len(articles))]
        for path, run in zip(args.runs, runs):
            summary, records = redecode(run, articles, args.batch_size, changes)
            results[str(path)] = {"summary": summary, "records": records}
            print(json.dumps({"run": str(path), **summary}))
    first = results[str(args.runs[0])]["records"]
    for path in args.runs[1:]:
        for field in ROUGE_TYPES:
            mean, low, high = paired_difference(results[str(path)]["records"], first, field)
            print(f"{path}: {field} - first run's = {mean:+.2f} [{low:+.2f}, {high:+.2f}] over {len(first)} articles")
    if args.json:
        args.json.write_text(json.dumps({"changes": changes, "split": args.split, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
