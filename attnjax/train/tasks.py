"""Tasks: the loss a model trains on and the metrics it is evaluated with, registered by name.

A :class:`Task` has three parts:
  ``loss(model, params, batch, rng, step) -> (loss_sum, sums)``: summed over the batch's real
      examples/tokens, with ``sums["weight"]`` their count, so microbatches and devices add up to
      exactly the global batch mean (``loss_sum / weight``);
  ``predict(model, params, batch) -> outputs``: per-example arrays ``[B, ...]`` (jitted by the caller,
      which adds the batch's ``example_mask``, ``example_index`` and ``labels`` to them and gathers
      them on every process);
  ``evaluate(context, evaluated) -> metrics``: host-side metrics over a split, from the
      ``(outputs, global_batch)`` pairs of all its batches; ``metrics["per_example"]`` is a list of
      one record per evaluated example (``index`` into the split, ``input_length`` and the task's
      per-example scores), which the loop stores as ``predictions_<split>.jsonl``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.models import beam_decode, greedy_decode
from attnjax.registry import Registry
from attnjax.train import metrics as metric_lib

Array = jax.Array
Batch = Mapping[str, Array]


@dataclasses.dataclass
class EvalContext:
    """What evaluation needs beyond arrays: the raw examples (references) and the tokenizer."""

    examples: Sequence[Mapping[str, Any]]
    tokenizer: Any
    eval_config: Any
    decode: Callable[[Array], np.ndarray]  # global inputs [B, L] -> ids [B, T] on the host
    num_classes: int = 0


@dataclasses.dataclass(frozen=True)
class Task:
    kind: str  # the data it reads: "classification" or "summarization" (attnjax.data task kinds)
    loss: Callable[..., tuple[Array, dict]]
    predict: Callable[..., dict]
    evaluate: Callable[..., dict]
    device_keys: tuple[str, ...]  # batch arrays the jitted functions read (and evaluation gets back)
    metric_names: tuple[str, ...]  # what evaluate returns (config.eval.best_metric picks one)


TASKS: Registry[Task] = Registry("task")


def _weighted_cross_entropy(logits: Array, labels: Array, weights: Array) -> Array:
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    return losses * weights


# --- classification ---------------------------------------------------------------------------


def classification_loss(model: nn.Module, params: Any, batch: Batch, rng: Array, step: Array):
    del step
    logits = model.apply({"params": params}, batch["inputs"], deterministic=False, rngs={"dropout": rng})
    weights = batch["example_mask"].astype(jnp.float32)
    loss_sum = _weighted_cross_entropy(logits, batch["labels"], weights).sum()
    correct = (jnp.argmax(logits, -1) == batch["labels"]).astype(jnp.float32) * weights
    return loss_sum, {"weight": weights.sum(), "accuracy": correct.sum()}


def classification_predict(model: nn.Module, params: Any, batch: Batch) -> dict:
    logits = model.apply({"params": params}, batch["inputs"])
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["labels"])
    return {"prediction": jnp.argmax(logits, -1), "loss": losses}


def classification_evaluate(context: EvalContext, evaluated: Iterable[tuple[dict, dict]]) -> dict:
    scores = metric_lib.ClassificationMetrics(context.num_classes)
    losses = metric_lib.MeanAccumulator()
    records = []
    for out, _ in evaluated:
        mask = out["example_mask"].astype(bool)
        scores.update(out["prediction"][mask], out["labels"][mask])
        losses.update(out["loss"][mask].sum(), mask.sum())
        for i in np.flatnonzero(mask):
            label, prediction = int(out["labels"][i]), int(out["prediction"][i])
            records.append({
                "index": int(out["example_index"][i]), "input_length": int(out["input_length"][i]),
                "label": label, "prediction": prediction, "correct": float(label == prediction),
                "loss": float(out["loss"][i]),
            })
    records.sort(key=lambda r: r["index"])
    return {**scores.result(), "loss": losses.result(), "per_example": records}


TASKS.register(
    "classification",
    Task(
        kind="classification",
        loss=classification_loss,
        predict=classification_predict,
        evaluate=classification_evaluate,
        device_keys=("inputs", "labels", "example_mask", "example_index"),
        metric_names=("accuracy", "macro_f1", "loss"),
    ),
)


# --- summarization ----------------------------------------------------------------------------


def shift_right(targets: Array, bos_id: int) -> Array:
    """Decoder inputs: ``bos`` then the targets without their last token (teacher forcing)."""
    return jnp.concatenate([jnp.full_like(targets[:, :1], bos_id), targets[:, :-1]], axis=1)


def _token_losses(model: nn.Module, params: Any, batch: Batch, deterministic: bool, rng=None):
    rngs = None if deterministic else {"dropout": rng}
    targets_in = shift_right(batch["targets"], BOS_ID)
    logits = model.apply(
        {"params": params}, batch["inputs"], targets_in, deterministic=deterministic, rngs=rngs
    )
    weights = batch["target_mask"].astype(jnp.float32) * batch["example_mask"].astype(jnp.float32)[:, None]
    return _weighted_cross_entropy(logits, batch["targets"], weights), weights, logits


BOS_ID = 1  # attnjax.data tokenizers: pad 0, bos 1, eos 2
EOS_ID = 2


def summarization_loss(model: nn.Module, params: Any, batch: Batch, rng: Array, step: Array):
    del step
    losses, weights, logits = _token_losses(model, params, batch, deterministic=False, rng=rng)
    correct = (jnp.argmax(logits, -1) == batch["targets"]).astype(jnp.float32) * weights
    return losses.sum(), {"weight": weights.sum(), "token_accuracy": correct.sum()}


def summarization_predict(model: nn.Module, params: Any, batch: Batch) -> dict:
    losses, weights, _ = _token_losses(model, params, batch, deterministic=True)
    return {"loss_sum": losses.sum(-1), "tokens": weights.sum(-1)}


def decode_ids(model: nn.Module, params: Any, inputs: Array, eval_config: Any) -> Array:
    """Summaries ``[B, max_decode_length]`` by greedy or beam search (the best beam)."""
    if eval_config.decode == "beam":
        sequences, _ = beam_decode(
            model, params, inputs, beam_size=eval_config.beam_size, max_length=eval_config.max_decode_length,
            alpha=eval_config.alpha, bos_id=BOS_ID, eos_id=EOS_ID,
        )
        return sequences[:, 0]
    if eval_config.decode != "greedy":
        raise ValueError(f"config.eval.decode={eval_config.decode!r}; expected 'greedy' or 'beam'")
    tokens, _ = greedy_decode(
        model, params, inputs, max_length=eval_config.max_decode_length, bos_id=BOS_ID, eos_id=EOS_ID
    )
    return tokens


def ids_to_text(tokenizer: Any, ids: np.ndarray) -> str:
    """Token ids up to (not including) the first ``eos``, as text."""
    ids = np.asarray(ids)
    end = np.flatnonzero(ids == EOS_ID)
    return tokenizer.decode(ids[: end[0]] if end.size else ids)


def summarization_evaluate(context: EvalContext, evaluated: Iterable[tuple[dict, dict]]) -> dict:
    losses = metric_lib.MeanAccumulator()
    rouge = metric_lib.RougeMetrics()
    limit = context.eval_config.max_decode_examples or None
    decoded = 0
    records = []
    for out, global_batch in evaluated:
        mask = out["example_mask"].astype(bool)
        losses.update(out["loss_sum"][mask].sum(), out["tokens"][mask].sum())
        if limit is not None and decoded >= limit:
            continue
        ids = context.decode(global_batch["inputs"])
        keep = np.flatnonzero(mask)[: None if limit is None else limit - decoded]
        predictions = [ids_to_text(context.tokenizer, ids[i]) for i in keep]
        references = [context.examples[int(out["example_index"][i])]["summary"] for i in keep]
        for i, prediction, scores in zip(keep, predictions, rouge.update(predictions, references)):
            records.append({
                "index": int(out["example_index"][i]), "input_length": int(out["input_length"][i]),
                "prediction": prediction, "loss": float(out["loss_sum"][i] / max(out["tokens"][i], 1)),
                **scores,
            })
        decoded += len(keep)
    loss = losses.result()
    records.sort(key=lambda r: r["index"])
    return {
        "loss": loss, "perplexity": metric_lib.perplexity(loss), **rouge.result(), "decoded": decoded,
        "per_example": records,
    }


TASKS.register(
    "summarization",
    Task(
        kind="summarization",
        loss=summarization_loss,
        predict=summarization_predict,
        evaluate=summarization_evaluate,
        device_keys=("inputs", "targets", "target_mask", "example_mask", "example_index"),
        metric_names=("loss", "perplexity", "rouge1", "rouge2", "rougeL", "rougeLsum"),
    ),
)

