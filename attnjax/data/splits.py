"""Splits: ``train``, ``validation``, ``test``; a validation split carved from train when missing.

The carve is a fixed seeded permutation of the train indices, so it is the same on every machine
and every run (and train never overlaps the carved validation). Never tune on ``test``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from attnjax.data.schema import Example

SPLITS = ("train", "validation", "test")


class ExampleSequence(Sequence):
    """A read-only sequence of canonical examples: ``convert(base[i])`` over the chosen ``indices``.

    Conversion happens on access, so a large TFDS split is never copied into memory.
    """

    def __init__(self, base: Sequence, convert: Callable[[object, int], Example] = lambda row, i: row, indices=None):
        self._base = base
        self._convert = convert
        self._indices = np.arange(len(base)) if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ExampleSequence(self._base, self._convert, self._indices[i])
        j = int(self._indices[i])
        return self._convert(self._base[j], j)

    def subset(self, indices: Sequence[int]) -> "ExampleSequence":
        """The examples at ``indices`` (positions in this sequence)."""
        return ExampleSequence(self._base, self._convert, self._indices[np.asarray(indices, dtype=np.int64)])


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def carve_validation(num_train: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train indices, validation indices)`` of a ``num_train``-row train split.

    The validation part holds ``round(fraction * num_train)`` rows (at least 1), chosen by a
    permutation seeded with ``seed``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}; e.g. 0.1 keeps 90% for training")
    if num_train < 2:
        raise ValueError(f"cannot carve a validation split from a train split of {num_train} example(s); need at least 2")
    num_validation = min(num_train - 1, max(1, round(fraction * num_train)))
    order = np.random.default_rng(seed).permutation(num_train)
    return np.sort(order[num_validation:]), np.sort(order[:num_validation])
