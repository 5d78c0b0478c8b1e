"""Input pipeline throughput: examples per second for tokenize + batch on IMDB train.

The tokenizer is trained first (not timed); then each repeat times ``encode_examples`` (normalize,
tokenize, truncate) plus one full epoch of ``BatchIterator`` (shuffle, bucket, pad) over the split.
``batch_only_examples_per_second`` is a later epoch, which reuses the encoded split.
``examples_per_cpu_second`` divides by the CPU time of all threads: it moves less than wall-clock
rates when other jobs share the machine (``load_average_1min`` says how busy it was).

    python experiments/benchmarks/data_bench.py                      # ../shared/data/imdb, SentencePiece
    python experiments/benchmarks/data_bench.py --tokenizer byte
    python experiments/benchmarks/data_bench.py --source tfds:imdb_reviews --data-dir ~/tensorflow_datasets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from attnjax.data import BatchIterator, encode_examples, load_split, train_tokenizer


def default_source() -> str:
    shared = os.environ.get("ATTNJAX_SHARED_DATA") or Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    return str(Path(shared) / "imdb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=None, help="data source (default: ../shared/data/imdb)")
    parser.add_argument("--data-dir", default=None, help="TFDS data_dir for tfds: sources")
    parser.add_argument("--tokenizer", default="sentencepiece", choices=("sentencepiece", "byte", "word"))
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--tokenizer-sentences", type=int, default=5000, help="texts SentencePiece trains on")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--buckets", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    source = args.source or default_source()
    options = {"data_dir": args.data_dir} if source.startswith("tfds:") else {}
    start = time.perf_counter()
    examples = list(load_split(source, "train", **options))
    load_seconds = time.perf_counter() - start

    start = time.perf_counter()
    texts = (e["text"] for e in examples)
    tokenizer_options = {"vocab_size": args.vocab_size} if args.tokenizer != "byte" else {}
    if args.tokenizer == "sentencepiece":
        tokenizer_options["max_sentences"] = args.tokenizer_sentences
    tokenizer = train_tokenizer(args.tokenizer, texts, lower=True, strip_html=True, **tokenizer_options)
    train_seconds = time.perf_counter() - start

    rates, cpu_rates = [], []
    for repeat in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        data = encode_examples(examples, tokenizer, max_length=args.max_length)
        batches = BatchIterator(data, args.batch_size, bucket_lengths=args.buckets, seed=repeat, drop_remainder=False,
                                num_epochs=1, process_index=0, process_count=1)
        num_batches = sum(1 for _ in batches)
        rates.append(len(examples) / (time.perf_counter() - start))
        cpu_rates.append(len(examples) / (time.process_time() - cpu_start))
    # Later epochs reuse the encoded split (or EncodedExamples.load): batching alone.
    start = time.perf_counter()
    sum(1 for _ in BatchIterator(data, args.batch_size, bucket_lengths=args.buckets, seed=args.repeats,
                                 drop_remainder=False, num_epochs=1, process_index=0, process_count=1))
    batch_only = len(examples) / (time.perf_counter() - start)
    print(json.dumps({
        "source": source, "examples": len(examples), "tokenizer": args.tokenizer, "vocab_size": tokenizer.vocab_size,
        "max_length": args.max_length, "buckets": args.buckets, "batch_size": args.batch_size, "batches": num_batches,
        "load_seconds": round(load_seconds, 2), "tokenizer_train_seconds": round(train_seconds, 2),
        "examples_per_second_best": round(max(rates)), "examples_per_second_median": round(statistics.median(rates)),
        "batch_only_examples_per_second": round(batch_only),
        "examples_per_cpu_second_best": round(max(cpu_rates)),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
    }))


if __name__ == "__main__":
    main()
