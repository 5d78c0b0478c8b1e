"""Tokenized examples -> padded, length-bucketed, shuffled, resumable, per-process batches.

Every batch is padded to one of a few fixed lengths (``bucket_lengths``), so a jitted step
compiles once per bucket. The batch order of an epoch is a pure function of ``(seed, epoch)``,
which makes the iterator's state three integers and resuming exact. On ``process_count``
processes every process plans the same global batches and keeps its own ``batch_size`` rows, so
all processes step through the same bucket shapes in lockstep.

Batch dicts (numpy int32, ``B = batch_size``):
  ``inputs [B, L]``, ``input_mask [B, L]`` (1 on tokens), ``input_lengths [B]``,
  ``example_mask [B]`` (0 on rows that only pad a last, short batch), ``example_index [B]`` (the
  row's index in the data, -1 on padding rows: evaluation maps predictions back to raw examples),
  classification: ``labels [B]``; summarization: ``targets [B, T]`` (summary ids then ``eos``),
  ``target_mask [B, T]``, ``target_lengths [B]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from attnjax.data.schema import schema_of
from attnjax.data.tokenizers import Tokenizer
from attnjax.registry import Registry


@dataclass
class EncodedExamples:
    """Token ids of a split: ``inputs[i]`` int32 ``[len_i]``; ``labels [N]`` or ``targets[i]``."""

    inputs: list[np.ndarray]
    labels: Optional[np.ndarray] = None
    targets: Optional[list[np.ndarray]] = None

    def __len__(self) -> int:
        return len(self.inputs)

    def save(self, path) -> None:
        """Writes the ids to ``path`` (``.npz``: flat ids + lengths), so a rerun skips tokenization."""
        arrays = {"inputs": np.concatenate(self.inputs), "input_lengths": _lengths(self.inputs)}
        if self.labels is not None:
            arrays["labels"] = self.labels
        if self.targets is not None:
            arrays["targets"], arrays["target_lengths"] = np.concatenate(self.targets), _lengths(self.targets)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> "EncodedExamples":
        """Reads what :meth:`save` wrote."""
        with np.load(path) as f:
            def split(ids: str, lengths: str) -> list[np.ndarray]:
                return np.split(f[ids], np.cumsum(f[lengths])[:-1])

            return cls(
                split("inputs", "input_lengths"),
                labels=f["labels"] if "labels" in f else None,
                targets=split("targets", "target_lengths") if "targets" in f else None,
            )


def _lengths(rows: Sequence[np.ndarray]) -> np.ndarray:
    return np.fromiter((len(r) for r in rows), np.int64, len(rows))


def _encode_classification(rows, tokenizer, max_length, max_target_length) -> EncodedExamples:
    inputs = tokenizer.encode_batch([r["text"] for r in rows], max_length=max_length)
    return EncodedExamples(inputs, labels=np.fromiter((r["label"] for r in rows), np.int32, len(rows)))


def _encode_summarization(rows, tokenizer, max_length, max_target_length) -> EncodedExamples:
    if max_target_length is None or max_target_length < 2:
        raise ValueError(f"summarization needs max_target_length >= 2 (summary ids + eos), got {max_target_length}")
    inputs = tokenizer.encode_batch([r["document"] for r in rows], max_length=max_length)
    summaries = tokenizer.encode_batch([r["summary"] for r in rows], max_length=max_target_length - 1)
    eos = np.array([tokenizer.eos_id], np.int32)
    return EncodedExamples(inputs, targets=[np.concatenate([s, eos]) for s in summaries])


# Per record schema (attnjax.data.SCHEMAS): how its examples become ids. Not the models' sequence
# ENCODERS (attnjax.models).
EXAMPLE_ENCODERS: Registry[Callable[..., EncodedExamples]] = Registry("example encoder")
EXAMPLE_ENCODERS.register("classification", _encode_classification)
EXAMPLE_ENCODERS.register("summarization", _encode_summarization)


def encode_examples(
    examples: Sequence[dict],
    tokenizer: Tokenizer,
    max_length: int,
    max_target_length: Optional[int] = None,
) -> EncodedExamples:
    """Tokenizes canonical examples, truncating inputs to ``max_length`` ids.

    Classification examples (``text``, ``label``) give ``inputs`` and ``labels``; summarization
    examples (``document``, ``summary``) give ``inputs`` and ``targets`` = summary ids cut to
    ``max_target_length - 1``, then ``eos``.
    """
    if len(examples) == 0:
        raise ValueError("no examples to encode; load a non-empty split first")
    rows = [examples[i] for i in range(len(examples))]
    return EXAMPLE_ENCODERS.get(schema_of(rows[0]))(rows, tokenizer, max_length, max_target_length)


def _pad(rows: Sequence[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows`` -> ``(ids [B, length], mask [B, length], lengths [B])``, all int32."""
    lengths = np.fromiter((len(r) for r in rows), np.int32, len(rows))
    mask = np.arange(length, dtype=np.int32)[None, :] < lengths[:, None]
    ids = np.zeros((len(rows), length), np.int32)
    if len(rows):
        ids[mask] = np.concatenate(rows)
    return ids, mask.astype(np.int32), lengths


def _bucket_of(lengths: np.ndarray, bucket_lengths: np.ndarray) -> np.ndarray:
    return np.searchsorted(bucket_lengths, lengths, side="left")


def _check_buckets(name: str, buckets: Sequence[int]) -> np.ndarray:
    array = np.asarray(sorted(set(int(b) for b in buckets)), np.int64)
    if array.size == 0 or array[0] < 1:
        raise ValueError(f"{name} must be positive lengths such as (64, 128, 256, 512), got {tuple(buckets)}")
    return array


class BatchIterator:
    """Iterates padded batches of :class:`EncodedExamples`; ``get_state``/``set_state`` resume exactly.

    Args:
      data: encoded examples (inputs longer than the largest bucket are truncated to it).
      batch_size: rows per batch on this process (the global batch is ``batch_size * process_count``).
      bucket_lengths: padded input lengths; an example goes to the smallest that holds it.
      target_bucket_lengths: padded target lengths (summarization).
      seed: shuffling seed; epoch ``e`` uses the order drawn from ``(seed, e)``.
      shuffle: False keeps the data order (evaluation).
      drop_remainder: drop each bucket's last short batch (training); otherwise pad it with rows
        whose ``example_mask`` is 0 (evaluation sees every example once).
      num_epochs: stop after this many epochs (None: forever).
      process_index, process_count: this process's share (default ``jax.process_index()`` /
        ``jax.process_count()``).
    """

    def __init__(
        self,
        data: EncodedExamples,
        batch_size: int,
        *,
        bucket_lengths: Sequence[int] = (64, 128, 256, 512),
        target_bucket_lengths: Sequence[int] = (128,),
        seed: int = 0,
        shuffle: bool = True,
        drop_remainder: bool = True,
        num_epochs: Optional[int] = None,
        process_index: Optional[int] = None,
        process_count: Optional[int] = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if process_index is None or process_count is None:
            import jax

            process_index = jax.process_index() if process_index is None else process_index
            process_count = jax.process_count() if process_count is None else process_count
        if not 0 <= process_index < process_count:
            raise ValueError(f"process_index must be in [0, process_count={process_count}), got {process_index}")
        self.data = data
        self.batch_size = batch_size
        self.bucket_lengths = _check_buckets("bucket_lengths", bucket_lengths)
        self.target_bucket_lengths = _check_buckets("target_bucket_lengths", target_bucket_lengths)
        self.seed = seed
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder
        self.num_epochs = num_epochs
        self.process_index = process_index
        self.process_count = process_count
        self.global_batch_size = batch_size * process_count

        input_lengths = np.minimum(np.fromiter((len(x) for x in data.inputs), np.int64, len(data)), self.bucket_lengths[-1])
        buckets = _bucket_of(input_lengths, self.bucket_lengths)
        if data.targets is not None:
            target_lengths = np.minimum(np.fromiter((len(t) for t in data.targets), np.int64, len(data)), self.target_bucket_lengths[-1])
            buckets = buckets * len(self.target_bucket_lengths) + _bucket_of(target_lengths, self.target_bucket_lengths)
        self._buckets = buckets
        self._epoch, self._step = 0, 0
        self._plan_epoch: Optional[int] = None
        self._plan: list[np.ndarray] = []
        if not self.drop_remainder or self.num_batches_in_epoch() > 0:
            return
        raise ValueError(
            f"{len(data)} examples give no full global batch of {self.global_batch_size} in any length bucket "
            f"(inputs {self.bucket_lengths.tolist()}, targets {self.target_bucket_lengths.tolist()}); lower batch_size, "
            f"use fewer buckets or pass drop_remainder=False"
        )

    def epoch_plan(self, epoch: int) -> list[np.ndarray]:
        """The global batches of ``epoch``: example indices ``[global_batch_size]`` (-1 pads a row)."""
        n = len(self.data)
        order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        batches, finish = [], []
        position = np.empty(n, np.int64)
        position[order] = np.arange(n)
        size = self.global_batch_size
        for bucket in np.unique(self._buckets):
            members = order[self._buckets[order] == bucket]
            full = len(members) // size
            for b in range(full):
                batches.append(members[b * size : (b + 1) * size])
                finish.append(position[members[(b + 1) * size - 1]])
            rest = members[full * size :]
            if len(rest) and not self.drop_remainder:
                batches.append(np.concatenate([rest, np.full(size - len(rest), -1, np.int64)]))
                finish.append(n + position[rest[-1]])
        # A batch is emitted when its last example comes up in the epoch order, as a streaming
        # bucketer would emit it; padded remainders come last.
        return [batches[i] for i in np.argsort(np.asarray(finish, np.int64), kind="stable")]

    def num_batches_in_epoch(self) -> int:
        """Global batches per epoch (the same in every epoch)."""
        counts = np.bincount(self._buckets)
        counts = counts[counts > 0]
        full = int(np.sum(counts // self.global_batch_size))
        return full if self.drop_remainder else full + int(np.sum(counts % self.global_batch_size > 0))

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        while True:
            if self.num_epochs is not None and self._epoch >= self.num_epochs:
                raise StopIteration
            if self._plan_epoch != self._epoch:
                self._plan, self._plan_epoch = self.epoch_plan(self._epoch), self._epoch
            if self._step < len(self._plan):
                break
            self._epoch, self._step = self._epoch + 1, 0
        rows = self._plan[self._step]
        self._step += 1
        local = rows[self.process_index * self.batch_size : (self.process_index + 1) * self.batch_size]
        return self.make_batch(local, int(self._buckets[rows[0]]))  # rows[0] is always a real example

    def make_batch(self, indices: np.ndarray, bucket: int) -> dict:
        """The batch of example ``indices`` padded to ``bucket``'s lengths (-1: an empty row, ``example_mask`` 0).

        The lengths come from the global batch's bucket, not from these rows, so every process
        pads its share of a global batch to the same shape.
        """
        real = indices >= 0
        empty = np.zeros(0, np.int32)
        num_target_buckets = len(self.target_bucket_lengths)
        length = int(self.bucket_lengths[bucket // num_target_buckets if self.data.targets is not None else bucket])
        ids, mask, lengths = _pad([self.data.inputs[i][:length] if i >= 0 else empty for i in indices], length)
        batch = {
            "inputs": ids, "input_mask": mask, "input_lengths": lengths, "example_mask": real.astype(np.int32),
            "example_index": np.where(real, indices, -1).astype(np.int32),
        }
        if self.data.labels is not None:
            batch["labels"] = np.where(real, self.data.labels[np.maximum(indices, 0)], 0).astype(np.int32)
        if self.data.targets is not None:
            t_length = int(self.target_bucket_lengths[bucket % num_target_buckets])
            targets = [self.data.targets[i][:t_length] if i >= 0 else empty for i in indices]
            batch["targets"], batch["target_mask"], batch["target_lengths"] = _pad(targets, t_length)
        return batch

    def get_state(self) -> dict:
        """Position to resume from: ``{"seed", "epoch", "step", ...}`` (JSON-serializable ints)."""
        return {
            "seed": self.seed,
            "epoch": self._epoch,
            "step": self._step,
            "num_examples": len(self.data),
            "global_batch_size": self.global_batch_size,
        }

    def set_state(self, state: dict) -> None:
        """Resumes at ``state`` from :meth:`get_state`; the next batch is the one that followed it."""
        expected = {"seed": self.seed, "num_examples": len(self.data), "global_batch_size": self.global_batch_size}
        found = {k: state.get(k) for k in expected}
        if found != expected:
            raise ValueError(
                f"iterator state {found} does not match this iterator {expected}; resume with the same data, "
                f"seed and global batch size as the run that saved it"
            )
        self._epoch, self._step = int(state["epoch"]), int(state["step"])
