"""The ``summarization`` task: teacher-forced token cross-entropy; loss, perplexity, ROUGE and the
share of repeated trigrams of decoded text.

The training loss adds the auxiliary per-token losses a model sows (:data:`attnjax.models.AUX_LOSSES`,
e.g. the coverage loss), masked and averaged like the cross-entropy, and reports each as the metric
``<name>_loss``; evaluation's loss and perplexity are the cross-entropy alone.

The decoder reads ``bos`` then the summary and predicts the summary then ``eos``; both ids are the
tokenizer's (:meth:`attnjax.train.Task.for_tokenizer` binds them). Attention maps: the
cross-attention (the RNN decoder's attention, or the last Transformer decoder layer's) while the
model reads its own greedy summary, heads averaged. ``attention.json`` examples: ``{"index",
"tokens": [str] * S, "summary_tokens": [str] * T, "weights": [[float] * S] * T}``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from attnjax.models import AUX_LOSSES, COVERAGE_LOSS, beam_decode, coverage_phase, greedy_decode
from attnjax.train import metrics as metric_lib
from attnjax.train.tasks import (
    TASKS, Batch, EvalContext, Task, forward_with_intermediates, padded_ids, sown_weights, token_strings,
    weighted_cross_entropy,
)

Array = jax.Array
# The share of decoded trigrams that repeat an earlier one of the same summary (0 to 1; lower is
# better): what n-gram blocking, config.eval.no_repeat_ngram_size=3, brings to 0.
REPEATED = "repeated_trigrams"


def shift_right(targets: Array, bos_id: int) -> Array:
    """Decoder inputs: ``bos`` then the targets without their last token (teacher forcing)."""
    return jnp.concatenate([jnp.full_like(targets[:, :1], bos_id), targets[:, :-1]], axis=1)


def _token_losses(model: nn.Module, params: Any, batch: Batch, bos_id: int, deterministic: bool, rng=None):
    rngs = None if deterministic else {"dropout": rng}
    targets_in = shift_right(batch["targets"], bos_id)
    logits, state = model.apply(
        {"params": params}, batch["inputs"], targets_in, deterministic=deterministic, rngs=rngs,
        mutable=[AUX_LOSSES],
    )
    weights = batch["target_mask"].astype(jnp.float32) * batch["example_mask"].astype(jnp.float32)[:, None]
    # name -> [B, T] weighted per-token loss; a name sown more than once (by several layers) adds up.
    aux = {name: sum(jax.tree.leaves(sown)) * weights for name, sown in state.get(AUX_LOSSES, {}).items()}
    return weighted_cross_entropy(logits, batch["targets"], weights), weights, logits, aux


def summarization_loss(model: nn.Module, params: Any, batch: Batch, rng: Array, step: Array, *, bos_id: int):
    # See et al.'s coverage phase (config.coverage_start_step): no coverage before it.
    params, coverage_scale = coverage_phase(model.config, params, step)
    losses, weights, logits, aux = _token_losses(model, params, batch, bos_id, deterministic=False, rng=rng)
    correct = (jnp.argmax(logits, -1) == batch["targets"]).astype(jnp.float32) * weights
    total = losses.sum()
    for name, loss in aux.items():
        # Before the phase the coverage loss weighs 0 in the objective; its metric still shows it.
        total = total + (coverage_scale if name == COVERAGE_LOSS else 1.0) * loss.sum()
    sums = {"weight": weights.sum(), "token_accuracy": correct.sum()}
    sums.update({f"{name}_loss": loss.sum() for name, loss in aux.items()})
    return total, sums


def summarization_predict(model: nn.Module, params: Any, batch: Batch, *, bos_id: int) -> dict:
    losses, weights, _, _ = _token_losses(model, params, batch, bos_id, deterministic=True)
    return {"loss_sum": losses.sum(-1), "tokens": weights.sum(-1)}


def decode_ids(model: nn.Module, params: Any, inputs: Array, eval_config: Any, tokenizer: Any) -> Array:
    """Summaries ``[B, max_decode_length]`` by greedy or beam search (the best beam), with the
    config's n-gram blocking and minimum length."""
    ids = dict(
        bos_id=tokenizer.bos_id, eos_id=tokenizer.eos_id,
        no_repeat_ngram_size=eval_config.no_repeat_ngram_size, min_length=eval_config.min_decode_length,
    )
    if eval_config.decode == "beam":
        sequences, _ = beam_decode(
            model, params, inputs, beam_size=eval_config.beam_size, max_length=eval_config.max_decode_length,
            alpha=eval_config.alpha, **ids,
        )
        return sequences[:, 0]
    if eval_config.decode != "greedy":
        raise ValueError(f"config.eval.decode={eval_config.decode!r}; expected 'greedy' or 'beam'")
    tokens, _ = greedy_decode(model, params, inputs, max_length=eval_config.max_decode_length, **ids)
    return tokens


def summary_length(ids: np.ndarray, eos_id: int) -> int:
    """How many of ``ids`` come before the first ``eos`` (all of them without one)."""
    end = np.flatnonzero(np.asarray(ids) == eos_id)
    return int(end[0]) if end.size else len(ids)


def ids_to_text(tokenizer: Any, ids: np.ndarray) -> str:
    """Token ids up to (not including) the first ``eos``, as text."""
    ids = np.asarray(ids)
    return tokenizer.decode(ids[: summary_length(ids, tokenizer.eos_id)])


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
                **scores, REPEATED: metric_lib.repeated_ngram_rate([prediction]),
            })
        decoded += len(keep)
    loss = losses.result()
    records.sort(key=lambda r: r["index"])
    return {
        "loss": loss, "perplexity": metric_lib.perplexity(loss), **rouge.result(),
        REPEATED: metric_lib.repeated_ngram_rate([r["prediction"] for r in records]), "decoded": decoded,
        "per_example": records,
    }


def score_summaries(predictions: Sequence[str], examples: Sequence[dict], num_classes: int) -> tuple[dict, list[dict]]:
    """ROUGE and :data:`REPEATED` of the summaries ``predictions`` (one per example) against the
    examples' references, and the per-example records (``index``, each ROUGE score, the repeat share)."""
    del num_classes
    rouge = metric_lib.RougeMetrics()
    predictions = list(predictions)
    per_pair = rouge.update(predictions, [examples[i]["summary"] for i in range(len(examples))])
    records = [
        {"index": i, **scores, REPEATED: metric_lib.repeated_ngram_rate([prediction])}
        for i, (prediction, scores) in enumerate(zip(predictions, per_pair))
    ]
    return {**rouge.result(), REPEATED: metric_lib.repeated_ngram_rate(predictions)}, records


def decoded_count(config: Any, limit: int) -> int:
    """How many of a split's first ``limit`` examples (0: all) evaluation decodes and scores:
    at most ``config.eval.max_decode_examples`` (0: no cap)."""
    cap = config.eval.max_decode_examples
    return min(limit or cap, cap) if cap else limit


def longest_sequence(config: Any) -> int:
    """Inputs, targets and decoding all need positions: the longest of the three."""
    return max(max(config.data.bucket_lengths), max(config.data.target_bucket_lengths), config.eval.max_decode_length)


def with_special_ids(task: Task, tokenizer: Any) -> Task:
    return dataclasses.replace(
        task, bind=None,
        loss=functools.partial(summarization_loss, bos_id=tokenizer.bos_id),
        predict=functools.partial(summarization_predict, bos_id=tokenizer.bos_id),
    )


def decode_with_cross_attention(run: Any, inputs: Array, eval_config: Any = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """A loaded run's summaries ``[N, T]`` of ``inputs [N, L]`` (decoded with ``eval_config``, by
    default the run's) and the cross-attention weights ``[N, H, T, L]`` of its last decoder layer
    over them (teacher-forced on its own summaries), None when the model sows none."""
    tokenizer = run.tokenizer
    decoded = np.asarray(decode_ids(run.model, run.params, inputs, eval_config or run.config.eval, tokenizer))
    teacher_forced = shift_right(jnp.asarray(decoded), tokenizer.bos_id)
    _, intermediates = forward_with_intermediates(run.model, run.params, inputs, teacher_forced)
    return decoded, sown_weights(intermediates, ("cross_attention", "decoder"))


def cross_attention_maps(run: Any, examples: list[dict]) -> list[dict]:
    """Per example: source tokens, the greedy summary's tokens and the weights ``[T, S]`` between them."""
    ids, lengths = padded_ids(run, [e["document"] for e in examples])
    tokenizer = run.tokenizer
    decoded, weights = decode_with_cross_attention(run, jnp.asarray(ids))
    if weights is None:
        return []
    out = []
    for i, n in enumerate(lengths):
        t = min(summary_length(decoded[i], tokenizer.eos_id) + 1, decoded.shape[1])  # the summary and its EOS
        out.append({
            "index": i, "tokens": token_strings(tokenizer, ids[i, :n]),
            "summary_tokens": token_strings(tokenizer, decoded[i, :t]),
            "weights": weights[i].mean(0)[:t, :n].round(5).tolist(),  # [T, S], heads averaged
        })
    return out


def draw_cross_attention(maps: dict[str, dict], title: str):
    """One panel per variant (``maps``: label -> attention.json): summary tokens x source tokens."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(maps), 1, figsize=(14, 2.2 * len(maps)), squeeze=False)
    for ax, (label, m) in zip(axes[:, 0], maps.items()):
        example = m["examples"][0]
        ax.imshow(np.array(example["weights"]), aspect="auto", cmap="viridis")
        ax.set_yticks(range(len(example["summary_tokens"])), example["summary_tokens"], fontsize=6)
        step = max(1, len(example["tokens"]) // 60)
        ax.set_xticks(range(0, len(example["tokens"]), step), example["tokens"][::step], rotation=80, fontsize=6)
        ax.set_title(f"{title}, {label}: cross-attention, summary x source (example {example['index']})", fontsize=9)
    return fig


SUMMARIZATION = TASKS.register(
    "summarization",
    Task(
        kind="summarization",
        loss=summarization_loss,  # needs bos_id: for_tokenizer binds the run's
        predict=summarization_predict,
        evaluate=summarization_evaluate,
        device_keys=("inputs", "targets", "target_mask", "example_mask", "example_index"),
        metric_names=("loss", "perplexity", "rouge1", "rouge2", "rougeL", "rougeLsum", REPEATED),
        text_fields=("document", "summary"),
        input_field="document",
        main_metrics=(("rouge1", "R-1"), ("rouge2", "R-2"), ("rougeL", "R-L"), (REPEATED, "rep. 3-grams %")),
        paired_field="rouge1",
        table_scale={REPEATED: 100.0},
        lower_is_better=(REPEATED,),
        longest=longest_sequence,
        decode=decode_ids,
        bind=with_special_ids,
        attention_maps=cross_attention_maps,
        draw_attention=draw_cross_attention,
        score_predictions=score_summaries,
        scored_count=decoded_count,
    ),
)
