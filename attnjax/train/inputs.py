"""A run's data: splits read from ``config.data``, the tokenizer saved in the workdir, encoded ids."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from attnjax.data import EncodedExamples, Tokenizer, encode_examples, load_or_train_tokenizer, open_source, split_of
from attnjax.train.split_checks import check_label_count, check_several_classes, check_train_size

TOKENIZER_DIR = "tokenizer"


@dataclasses.dataclass
class Split:
    name: str
    examples: Sequence[dict]
    encoded: EncodedExamples


@dataclasses.dataclass
class RunData:
    task: str
    label_names: tuple[str, ...]
    tokenizer: Tokenizer
    train: Split
    eval: Split
    test: Optional[Split]
    test_skipped: str = ""  # why there is no test split, when there is none


def _first(examples: Sequence[dict], limit: int) -> Sequence[dict]:
    if not limit or limit >= len(examples):
        return examples
    return examples.subset(range(limit)) if hasattr(examples, "subset") else list(examples)[:limit]


def _training_texts(examples: Sequence[dict], task: str):
    fields = ("text",) if task == "classification" else ("document", "summary")
    for i in range(len(examples)):
        for field in fields:
            yield examples[i][field]


def _tokenizer_options(data: Any) -> dict:
    options = {"lower": data.lower, "strip_html": data.strip_html}
    if data.tokenizer in ("word", "sentencepiece"):
        options["vocab_size"] = data.vocab_size
    return options


def load_run_data(config: Any, workdir: Path, kind: str) -> RunData:
    """Reads the splits, trains (or reloads) the tokenizer in ``workdir/tokenizer`` and encodes.

    ``kind`` is the data the task reads (``classification`` or ``summarization``).
    """
    data = config.data
    source = open_source(data.source, **data.options.to_dict())
    if source.task != kind:
        raise ValueError(
            f"config.task={config.task!r} reads {kind} data but data source {data.source!r} is a {source.task!r} "
            f"data set; choose a {source.task} task or a {kind} source"
        )
    train = _first(split_of(source, data.train_split), data.max_train_examples)
    evaluation = _first(split_of(source, data.eval_split), data.max_eval_examples)
    check_train_size(len(train), config.train.batch_size, f"config.data.train_split={data.train_split!r}")
    if kind == "classification":
        check_label_count(source.label_names, config.model.num_classes, data.source)
        check_several_classes(train, source.label_names, f"config.data.train_split={data.train_split!r}", data.max_train_examples)
        check_several_classes(evaluation, source.label_names, f"config.data.eval_split={data.eval_split!r}", data.max_eval_examples)
    tokenizer = load_or_train_tokenizer(
        Path(workdir) / TOKENIZER_DIR, data.tokenizer, _training_texts(train, kind), **_tokenizer_options(data)
    )

    def encode(name: str, examples: Sequence[dict]) -> Split:
        encoded = encode_examples(examples, tokenizer, data.max_length, data.max_target_length)
        return Split(name, examples, encoded)

    test, skipped = None, ""
    if not data.test_split:
        skipped = "config.data.test_split is empty"
    elif data.test_split not in source.native_splits:
        skipped = f"{data.source} has no {data.test_split!r} split (it has {', '.join(source.native_splits)})"
    else:
        test_examples = _first(split_of(source, data.test_split), data.max_test_examples)
        if kind == "classification" and any(test_examples[i]["label"] < 0 for i in range(len(test_examples))):
            skipped = f"the {data.test_split!r} split of {data.source} has hidden labels (-1)"
        else:
            test = encode(data.test_split, test_examples)
    run = RunData(
        task=source.task, label_names=tuple(source.label_names), tokenizer=tokenizer,
        train=encode(data.train_split, train), eval=encode(data.eval_split, evaluation), test=test,
        test_skipped=skipped,
    )
    if kind == "classification":
        _check_labels(run, config.model.num_classes)
    return run


def _check_labels(run: RunData, num_classes: int) -> None:
    for split in (run.train, run.eval, run.test):
        if split is None:
            continue
        labels = split.encoded.labels
        if labels.min() < 0 or labels.max() >= num_classes:
            found = sorted(set(np.unique(labels).tolist()))
            raise ValueError(
                f"the {split.name!r} split has labels {found[:20]} but config.model.num_classes={num_classes}; "
                f"expected labels in [0, {num_classes})"
                + (f" (label names: {', '.join(run.label_names)})" if run.label_names else "")
                + ("; -1 marks hidden labels (e.g. GLUE's test split): train and evaluate on labelled splits"
                   if labels.min() == -1 else "")
            )
