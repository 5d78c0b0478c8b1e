"""The ``classification`` task: cross-entropy on one label per text; accuracy and macro-F1.

Attention maps: the pooling attention over tokens (the learned query's weights), or, for a model
without attention pooling, the last encoder layer's self-attention averaged over queries; heads
averaged. ``attention.json`` examples: ``{"index", "tokens": [str] * L, "weights": [float] * L,
"label", "prediction"}``.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.models.classifier import EMBEDDING_PERTURBATION
from attnjax.train import metrics as metric_lib
from attnjax.train.split_checks import check_label_count, check_several_classes
from attnjax.train.tasks import (
    TASKS, Batch, EvalContext, Task, forward_with_intermediates, padded_ids, sown_weights, token_strings,
    weighted_cross_entropy,
)

Array = jax.Array


def classification_loss(model: nn.Module, params: Any, batch: Batch, rng: Array, step: Array):
    del step
    weights = batch["example_mask"].astype(jnp.float32)
    epsilon = model.config.adversarial_epsilon
    if epsilon:
        logits, loss_sum, adversarial_sum = _adversarial_losses(model, params, batch, rng, weights, epsilon)
    else:
        logits = model.apply({"params": params}, batch["inputs"], deterministic=False, rngs={"dropout": rng})
        loss_sum = weighted_cross_entropy(logits, batch["labels"], weights).sum()
    correct = (jnp.argmax(logits, -1) == batch["labels"]).astype(jnp.float32) * weights
    sums = {"weight": weights.sum(), "accuracy": correct.sum()}
    if epsilon:
        # "loss" (what is minimised) is the sum of both; "clean_loss" is the loss of the batch as given.
        sums["clean_loss"] = loss_sum
        loss_sum = loss_sum + adversarial_sum
    return loss_sum, sums


def _adversarial_losses(model: nn.Module, params: Any, batch: Batch, rng: Array, weights: Array, epsilon: float):
    """``(logits, clean loss sum, adversarial loss sum)``: Miyato et al. (2017)'s adversarial training.

    The embeddings ``[B, L, W]`` are moved by ``r = epsilon * g / |g|`` per example, ``g`` the
    gradient of the clean loss with respect to them (a constant: no gradient flows through ``r``),
    with the same dropout masks as the clean pass, so ``r`` is the worst direction for that pass.
    """
    config = model.config
    width = config.embed_dim or config.d_model
    zeros = jnp.zeros(batch["inputs"].shape + (width,), config.compute_dtype)

    def loss_at(perturbation):
        variables = {"params": params, "perturbations": {EMBEDDING_PERTURBATION: perturbation}}
        logits = model.apply(variables, batch["inputs"], deterministic=False, rngs={"dropout": rng})
        return weighted_cross_entropy(logits, batch["labels"], weights).sum(), logits

    (clean_sum, logits), grad = jax.value_and_grad(loss_at, has_aux=True)(zeros)
    grad = jax.lax.stop_gradient(grad.astype(jnp.float32))
    norm = jnp.sqrt(jnp.sum(jnp.square(grad), axis=(1, 2), keepdims=True))
    # An example whose gradient is 0 (padding rows, a saturated loss) is left where it is.
    direction = grad / jnp.where(norm > 0, norm, 1.0)
    adversarial_sum, _ = loss_at((epsilon * direction).astype(zeros.dtype))
    return logits, clean_sum, adversarial_sum


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


def score_labels(predictions: Sequence[int], examples: Sequence[dict], num_classes: int) -> tuple[dict, list[dict]]:
    """Accuracy and macro-F1 of class ids ``predictions`` (one per example) against the examples' labels,
    and the per-example records (``index``, ``label``, ``prediction``, ``correct``)."""
    labels = [int(examples[i]["label"]) for i in range(len(examples))]
    predictions = [int(p) for p in predictions]
    scores = metric_lib.ClassificationMetrics(num_classes)
    scores.update(np.asarray(predictions, np.int64), np.asarray(labels, np.int64))
    records = [
        {"index": i, "label": label, "prediction": p, "correct": float(label == p)}
        for i, (label, p) in enumerate(zip(labels, predictions))
    ]
    return {k: v for k, v in scores.result().items() if k != "count"}, records


def check_labels(data: Any, config: Any) -> None:
    """ValueError when a split's labels fall outside ``[0, config.model.num_classes)``."""
    num_classes = config.model.num_classes
    for split in (data.train, data.eval, data.test):
        if split is None:
            continue
        labels = split.encoded.labels
        if labels.min() < 0 or labels.max() >= num_classes:
            found = sorted(set(np.unique(labels).tolist()))
            raise ValueError(
                f"the {split.name!r} split has labels {found[:20]} but config.model.num_classes={num_classes}; "
                f"expected labels in [0, {num_classes})"
                + (f" (label names: {', '.join(data.label_names)})" if data.label_names else "")
                + ("; -1 marks hidden labels (e.g. GLUE's test split): train and evaluate on labelled splits"
                   if labels.min() == -1 else "")
            )


def check_examples(source: Any, train: Sequence[dict], evaluation: Sequence[dict], config: Any) -> None:
    """ValueError before any work when the labels cannot train ``config.model.num_classes`` classes."""
    data = config.data
    check_label_count(source.label_names, config.model.num_classes, data.source)
    check_several_classes(train, source.label_names, f"config.data.train_split={data.train_split!r}", data.max_train_examples)
    check_several_classes(evaluation, source.label_names, f"config.data.eval_split={data.eval_split!r}", data.max_eval_examples)


def hidden_labels(examples: Sequence[dict]) -> str:
    """Why the split cannot be scored: hidden labels (-1, as TFDS stores GLUE's test labels); else ""."""
    return "has hidden labels (-1)" if any(examples[i]["label"] < 0 for i in range(len(examples))) else ""


def pooling_maps(run: Any, examples: list[dict], field: str = "text") -> list[dict]:
    """Per example: its tokens and the attention weight on each (see the module docstring)."""
    ids, lengths = padded_ids(run, [e[field] for e in examples])
    logits, intermediates = forward_with_intermediates(run.model, run.params, jnp.asarray(ids))
    weights = sown_weights(intermediates, ("pooling", "self_attention"))
    if weights is None:
        return []
    # [N, heads, queries, L] -> [N, L]: mean over heads and queries (one query for pooling).
    per_token = weights.mean(axis=(1, 2)) if weights.ndim == 4 else weights.mean(1)
    return [
        {
            "index": i, "tokens": token_strings(run.tokenizer, ids[i, :n]), "weights": per_token[i, :n].round(5).tolist(),
            "label": int(e["label"]), "prediction": int(np.argmax(logits[i])),
        }
        for i, (e, n) in enumerate(zip(examples, lengths))
    ]


def draw_token_weights(maps: dict[str, dict], title: str):
    """One panel per example: a row per variant (``maps``: label -> attention.json), a column per token."""
    import matplotlib.pyplot as plt

    first = next(iter(maps.values()))
    examples = min(len(m["examples"]) for m in maps.values())
    fig, axes = plt.subplots(examples, 1, figsize=(12, 1.0 + 0.45 * len(maps) * examples), squeeze=False)
    for e in range(examples):
        example = first["examples"][e]
        tokens = example["tokens"]
        rows = [m["examples"][e]["weights"][: len(tokens)] for m in maps.values()]
        ax = axes[e, 0]
        ax.imshow(np.array(rows), aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(tokens)), tokens, rotation=70, fontsize=7)
        ax.set_yticks(range(len(maps)), list(maps), fontsize=7)
        ax.set_title(f"{title}: example {example['index']} (label {example['label']}), weight per token", fontsize=9)
    return fig


CLASSIFICATION = TASKS.register(
    "classification",
    Task(
        kind="classification",
        loss=classification_loss,
        predict=classification_predict,
        evaluate=classification_evaluate,
        device_keys=("inputs", "labels", "example_mask", "example_index"),
        metric_names=("accuracy", "macro_f1", "loss"),
        text_fields=("text",),
        input_field="text",
        main_metrics=(("accuracy", "acc"),),
        paired_field="correct",
        percent=True,
        check_examples=check_examples,
        check_data=check_labels,
        hidden_test=hidden_labels,
        attention_maps=pooling_maps,
        draw_attention=draw_token_weights,
        score_predictions=score_labels,
    ),
)
