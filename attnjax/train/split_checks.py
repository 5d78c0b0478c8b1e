"""Checks of a classification run's splits, made once they are read and before any tokenizer is trained.

A split with one class (a class-sorted file cut by ``max_*_examples``) would train and report
accuracy 1.0; a train split smaller than one batch gives no batch at all (the last partial batch is
dropped); labels beyond ``config.model.num_classes`` would index past the logits.
"""

from __future__ import annotations

from typing import Any, Sequence


def check_label_count(label_names: Sequence[str], num_classes: int, source: str) -> None:
    """ValueError when ``source`` has more labels than the model has classes."""
    if len(label_names) > num_classes:
        raise ValueError(
            f"data source {source!r} has {len(label_names)} labels ({', '.join(label_names[:20])}) but "
            f"config.model.num_classes={num_classes}; set config.model.num_classes={len(label_names)}"
        )


def check_train_size(num_examples: int, batch_size: int, field: str) -> None:
    """ValueError when a train split of ``num_examples`` cannot fill one batch of ``batch_size``."""
    if num_examples < batch_size:
        raise ValueError(
            f"{field} has {num_examples} examples, fewer than one batch (config.train.batch_size={batch_size}); "
            f"add examples, raise config.data.max_train_examples, or lower config.train.batch_size"
        )


def check_several_classes(examples: Sequence[dict], label_names: Sequence[str], field: str, limit: Any) -> None:
    """ValueError giving the label counts when every example of a split has the same label.

    Stops at the first example with another label than the first one, so large splits cost little.
    """
    if not len(examples):
        return
    first = examples[0]["label"]
    if first < 0:
        return  # hidden labels (GLUE's test split): load_run_data reports them with their own message
    if any(examples[i]["label"] != first for i in range(1, len(examples))):
        return
    name = label_names[first] if 0 <= first < len(label_names) else str(first)
    cut = f" (cut to the first {limit} by its max_*_examples: is the file sorted by class?)" if limit else ""
    raise ValueError(
        f"{field} has a single class: all {len(examples)} examples have label {name!r}{cut}; accuracy on it means "
        f"nothing. Shuffle the file, raise or clear the max_*_examples limit, or choose another split"
    )

