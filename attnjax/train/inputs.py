"""A run's data: splits read from ``config.data``, the tokenizer saved in the workdir, encoded ids."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional, Sequence

from attnjax.data import (
    EncodedExamples, Source, Tokenizer, encode_examples, load_or_train_tokenizer, open_source, split_of,
)
from attnjax.train.split_checks import check_train_size
from attnjax.train.tasks import Task

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


def open_data(data: Any) -> Source:
    """The source ``config.data`` names, opened with its options."""
    return open_source(data.source, **data.options.to_dict())


def first_examples(source: Source, split: str, limit: int = 0) -> Sequence[dict]:
    """The first ``limit`` examples of ``split`` of ``source`` (all of them for 0)."""
    examples = split_of(source, split)
    if not limit or limit >= len(examples):
        return examples
    return examples.subset(range(limit))


def _training_texts(examples: Sequence[dict], fields: Sequence[str]):
    for i in range(len(examples)):
        for field in fields:
            yield examples[i][field]


def _tokenizer_options(data: Any) -> dict:
    options = {"lower": data.lower, "strip_html": data.strip_html}
    if data.tokenizer in ("word", "sentencepiece"):
        options["vocab_size"] = data.vocab_size
    return options


def load_run_data(config: Any, workdir: Path, task: Task) -> RunData:
    """Reads the splits, trains (or reloads) the tokenizer in ``workdir/tokenizer`` and encodes.

    ``task`` says which data it reads (``task.kind``), which fields the tokenizer learns and what
    the data must satisfy (``task.check_data``, ``task.hidden_test``).
    """
    data = config.data
    kind = task.kind
    source = open_data(data)
    if source.task != kind:
        raise ValueError(
            f"config.task={config.task!r} reads {kind} data but data source {data.source!r} is a {source.task!r} "
            f"data set; choose a {source.task} task or a {kind} source"
        )
    train = first_examples(source, data.train_split, data.max_train_examples)
    evaluation = first_examples(source, data.eval_split, data.max_eval_examples)
    check_train_size(len(train), config.train.batch_size, f"config.data.train_split={data.train_split!r}")
    task.check_examples(source, train, evaluation, config)
    tokenizer = load_or_train_tokenizer(
        Path(workdir) / TOKENIZER_DIR, data.tokenizer, _training_texts(train, task.text_fields), **_tokenizer_options(data)
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
        test_examples = first_examples(source, data.test_split, data.max_test_examples)
        hidden = task.hidden_test(test_examples)
        if hidden:
            skipped = f"the {data.test_split!r} split of {data.source} {hidden}"
        else:
            test = encode(data.test_split, test_examples)
    run = RunData(
        task=source.task, label_names=tuple(source.label_names), tokenizer=tokenizer,
        train=encode(data.train_split, train), eval=encode(data.eval_split, evaluation), test=test,
        test_skipped=skipped,
    )
    task.check_data(run, config)
    return run
