"""Decodes finished summarization runs again, on the same articles, with other decoding settings.

    python experiments/redecode.py RUN_DIR [RUN_DIR ...] --count 1000 --no-repeat-ngram-size 0

Each run's checkpoint (``--which best``, what the run tested, or ``latest``) decodes the first
``--count`` articles of ``--split`` with the run's own eval config, changed by the options given
(e.g. trigram blocking off, to see the repetition it hides). Per run it prints ROUGE (the
evaluation's code, x 100), the share of decoded trigrams that repeat an earlier one of the same
summary, and the **re-attention**: the mean over decoded steps of ``sum_i min(a_i^t, c_i^t)``
(``c^t``: the sum of the earlier steps' attention), the coverage loss of the summary the model
decoded (teacher-forced on its own output; the last decoder layer's cross-attention, heads
averaged), what See et al. (2017)'s coverage trains down. With two runs or more, each run's
paired ROUGE-1 difference to the first, with a 95% bootstrap interval over the articles. Writes
nothing; ``--json FILE`` writes the numbers there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from attnjax.train import load_run
from attnjax.train import metrics as metric_lib
from attnjax.train.inputs import first_examples, open_data
from attnjax.train.summarization import decode_ids, shift_right, summary_length
from attnjax.train.tasks import sown_weights

BOOTSTRAP_SAMPLES = 10_000


def reattention(weights: np.ndarray, steps: int) -> float:
    """Mean over the first ``steps`` rows of ``sum_i min(a_t,i, c_t,i)``; ``weights [T, S]``."""
    weights = weights[:steps]
    coverage = np.cumsum(weights, axis=0) - weights
    return float(np.minimum(weights, coverage).sum(-1).mean()) if steps else 0.0


def redecode(workdir: Path, articles: list[dict], which: str, batch_size: int, changes: dict) -> list[dict]:
    """Per article: its prediction, ROUGE scores, repeated-trigram share and re-attention."""
    run = load_run(workdir, which)
    if run.config.task != "summarization":
        raise ValueError(f"{workdir} is a {run.config.task!r} run; expected a summarization run")
    eval_config = run.config.eval.copy_and_resolve_references()
    eval_config.update(changes)
    tokenizer, length = run.tokenizer, run.config.data.max_length
    records, rouge = [], metric_lib.RougeMetrics()
    for start in range(0, len(articles), batch_size):
        chunk = articles[start:start + batch_size]
        ids = np.zeros((batch_size, length), np.int32)  # one shape: one compile
        encoded = run.encode([a["document"] for a in chunk])
        ids[: len(chunk), : encoded.shape[1]] = encoded
        inputs = jnp.asarray(ids)
        decoded = np.asarray(decode_ids(run.model, run.params, inputs, eval_config, tokenizer))
        _, state = run.model.apply(
            {"params": run.params}, inputs, shift_right(jnp.asarray(decoded), tokenizer.bos_id),
            mutable=["intermediates"],
        )
        weights = sown_weights(state["intermediates"], ("cross_attention", "decoder"))
        if weights is None:
            raise ValueError(f"{workdir}: the model sows no cross-attention weights (attention='none'?)")
        weights = weights.mean(1)  # [B, T, S], heads averaged
        predictions = []
        for i in range(len(chunk)):
            n = summary_length(decoded[i], tokenizer.eos_id)
            predictions.append(tokenizer.decode(decoded[i, :n]))
            records.append({"index": start + i, "reattention": reattention(weights[i], n)})
        for record, prediction, scores in zip(records[-len(chunk):], predictions,
                                              rouge.update(predictions, [a["summary"] for a in chunk])):
            record.update(prediction=prediction, **scores,
                          repeated_trigrams=metric_lib.repeated_ngram_rate([prediction]))
    return records


def summary(records: list[dict]) -> dict:
    return {
        **{k: float(np.mean([r[k] for r in records])) for k in metric_lib.ROUGE_TYPES},
        "repeated_trigrams": metric_lib.repeated_ngram_rate([r["prediction"] for r in records]),
        "reattention": float(np.mean([r["reattention"] for r in records])),
        "decoded": len(records),
    }


def paired_difference(a: list[dict], b: list[dict], field: str = "rouge1") -> tuple[float, float, float]:
    """Mean of ``a - b`` over the articles and its 95% bootstrap interval."""
    diffs = np.array([x[field] - y[field] for x, y in zip(a, b)])
    samples = np.random.default_rng(0).integers(0, len(diffs), size=(BOOTSTRAP_SAMPLES, len(diffs)))
    means = diffs[samples].mean(1)
    return float(diffs.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (compare.py's runs/<benchmark>/<variant>/seed*)")
    parser.add_argument("--count", type=int, default=500, help="how many articles, from the split's first")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--which", choices=("best", "latest"), default="best")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-repeat-ngram-size", type=int, help="n-gram blocking (0: off); default: the run's")
    parser.add_argument("--min-decode-length", type=int, help="default: the run's")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    for path in args.runs:
        if not (path / "config.json").is_file():
            parser.error(f"{path} holds no run (no config.json); pass a run directory, e.g. results/<preset>/runs/<benchmark>/<variant>/seed0-<key>")
    if args.count < 1 or args.batch_size < 1:
        parser.error(f"--count={args.count} and --batch-size={args.batch_size}; expected positive integers")
    changes = {k: v for k, v in (("no_repeat_ngram_size", args.no_repeat_ngram_size),
                                 ("min_decode_length", args.min_decode_length)) if v is not None}
    config = load_run(args.runs[0], args.which).config
    articles = first_examples(open_data(config.data), args.split, args.count)
    articles = [articles[i] for i in range(len(articles))]
    results = {}
    for path in args.runs:
        records = redecode(path, articles, args.which, args.batch_size, changes)
        results[str(path)] = {"summary": summary(records), "records": records}
        print(json.dumps({"run": str(path), **results[str(path)]["summary"]}))
    first = results[str(args.runs[0])]["records"]
    for path in args.runs[1:]:
        mean, low, high = paired_difference(results[str(path)]["records"], first)
        print(f"{path}: ROUGE-1 - first run's = {mean:+.2f} [{low:+.2f}, {high:+.2f}] over {len(first)} articles")
    if args.json:
        args.json.write_text(json.dumps({"changes": changes, "split": args.split, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
