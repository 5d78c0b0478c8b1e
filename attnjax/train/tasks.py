"""Tasks: everything of a run that depends on what is learned, registered by name in :data:`TASKS`.

A :class:`Task` is the one place a task kind is decided; the loop, the data reader, the tables, the
plots and the attention maps read it and never compare task names. It has:
  ``loss(model, params, batch, rng, step) -> (loss_sum, sums)``: summed over the batch's real
      examples/tokens, with ``sums["weight"]`` their count, so microbatches and devices add up to
      exactly the global batch mean (``loss_sum / weight``);
  ``predict(model, params, batch) -> outputs``: per-example arrays ``[B, ...]`` (jitted by the caller,
      which adds the batch's ``example_mask``, ``example_index`` and ``labels`` to them and gathers
      them on every process);
  ``evaluate(context, evaluated) -> metrics``: host-side metrics over a split, from the
      ``(outputs, global_batch)`` pairs of all its batches; ``metrics["per_example"]`` is a list of
      one record per evaluated example (``index`` into the split, ``input_length`` and the task's
      per-example scores), which the loop stores as ``predictions_<split>.jsonl``;
  the data it reads (``kind``: a record schema of :mod:`attnjax.data`; ``text_fields``: what the
      tokenizer is trained on; ``input_field``: what the model reads), the checks its data needs
      (``check_examples`` before tokenizing, ``check_data`` after; ``hidden_test``: why a test split cannot be scored, e.g. hidden labels), the longest sequence a run feeds the model (``longest``);
  how it is reported: ``main_metrics`` (the tables' columns; the first is the paired comparison's,
      on the per-example field ``paired_field``), ``percent`` (fractions shown x 100);
  how its attention is shown: ``attention_maps(run, examples)`` (per-example records for
      ``attention.json``) and ``draw_attention(maps, labels, title)`` (a matplotlib figure);
  how predictions made without the model (the tables' baseline rows) are scored:
      ``score_predictions(predictions, examples, num_classes) -> (metrics, per-example records)``
      on the examples evaluate would score (``scored_count(config, limit)`` of a split's first).

The built-in tasks are :mod:`attnjax.train.classification` and :mod:`attnjax.train.summarization`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.registry import Registry

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


def _no_check(data: Any, config: Any) -> None:
    del data, config


def _no_example_check(source: Any, train: Any, evaluation: Any, config: Any) -> None:
    del source, train, evaluation, config


def _visible(examples: Sequence[Mapping[str, Any]]) -> str:
    del examples
    return ""


def _every_limited(config: Any, limit: int) -> int:
    del config
    return limit


def longest_input(config: Any) -> int:
    """The longest input a run of ``config`` feeds: its largest bucket."""
    return max(config.data.bucket_lengths)


@dataclasses.dataclass(frozen=True)
class Task:
    kind: str  # the record schema of its data (attnjax.data.SCHEMAS), e.g. "classification"
    loss: Callable[..., tuple[Array, dict]]
    predict: Callable[..., dict]
    evaluate: Callable[..., dict]
    device_keys: tuple[str, ...]  # batch arrays the jitted functions read (and evaluation gets back)
    metric_names: tuple[str, ...]  # what evaluate returns (config.eval.best_metric picks one)
    text_fields: tuple[str, ...]  # example fields the tokenizer is trained on
    input_field: str  # the example field the model reads
    main_metrics: tuple[tuple[str, str], ...]  # (metric, column header) in the tables; the first is paired
    paired_field: str  # the per-example record field behind the paired comparison
    percent: bool = False  # the metrics and paired_field are fractions: tables and plots show x 100
    # Main metrics the tables scale on their own (metric -> factor, e.g. a 0-1 rate shown in %) and
    # those where lower is better (bold marks the smallest).
    table_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    lower_is_better: tuple[str, ...] = ()
    longest: Callable[[Any], int] = longest_input  # config -> longest sequence the model is fed
    check_examples: Callable[..., None] = _no_example_check  # (source, train, eval examples, config), before tokenizing
    check_data: Callable[[Any, Any], None] = _no_check  # (RunData, config) -> None or ValueError
    hidden_test: Callable[[Sequence[Mapping[str, Any]]], str] = _visible  # test examples -> why unusable, or ""
    decode: Optional[Callable[..., Array]] = None  # (model, params, inputs, eval_config, tokenizer) -> ids
    bind: Optional[Callable[["Task", Any], "Task"]] = None  # (task, tokenizer) -> task using its ids
    attention_maps: Optional[Callable[[Any, list], list[dict]]] = None  # (LoadedRun, examples) -> records
    # (predictions, examples, num_classes) -> (metrics, per-example records): one prediction per
    # example made without the model (a table's baseline row), scored by the metric code of evaluate.
    score_predictions: Optional[Callable[[Sequence, Sequence[Mapping[str, Any]], int], tuple[dict, list[dict]]]] = None
    scored_count: Callable[[Any, int], int] = _every_limited  # (config, a split's example limit; 0 = all) -> what evaluate scores
    draw_attention: Optional[Callable[..., Any]] = None  # ({label: attention.json}, title) -> Figure

    def for_tokenizer(self, tokenizer: Any) -> "Task":
        """This task with the tokenizer's special ids (``bos_id``, ``eos_id``) bound where it uses them."""
        return self.bind(self, tokenizer) if self.bind is not None else self


TASKS: Registry[Task] = Registry("task")


def weighted_cross_entropy(logits: Array, labels: Array, weights: Array) -> Array:
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    return losses * weights


# --- attention maps, shared by the tasks ---------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _apply_sowing(model: Any, params: Any, *inputs: Array) -> tuple[Any, Any]:
    return model.apply({"params": params}, *inputs, mutable=["intermediates"])


def forward_with_intermediates(model: Any, params: Any, *inputs: Array) -> tuple[Any, Any]:
    """``model``'s output on ``inputs`` and what it sowed (``intermediates``), in one jitted forward
    pass, compiled once per model and input shapes (op by op, each small op compiled apart: about
    4 s a run on a 2-core CPU). A model that sows nothing (``attention="none"``) gives ``{}``."""
    out, state = _apply_sowing(model, params, *inputs)
    return out, state.get("intermediates", {})


def sown_weights(intermediates: Any, prefer: tuple[str, ...]) -> Optional[np.ndarray]:
    """The sown attention or pooling weights whose path contains the first of ``prefer`` found (the
    last such layer), or None when nothing was sown (no attention, or chunked attention)."""
    leaves = [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(intermediates)[0]]
    for word in prefer:
        found = [leaf for path, leaf in leaves if word in path and ("attention_weights" in path or "pooling_weights" in path)]
        if found:
            return np.asarray(found[-1], np.float32)
    return None


def token_strings(tokenizer: Any, ids: np.ndarray) -> list[str]:
    """Each id decoded on its own (``·`` for an id that decodes to nothing)."""
    return [tokenizer.decode([int(i)]) or "·" for i in ids]


def padded_ids(run: Any, texts: list[str]) -> tuple[np.ndarray, list[int]]:
    """Ids ``[N, L]`` from :meth:`LoadedRun.encode` (one batch, one compile) and each row's length."""
    ids = run.encode(texts)
    return ids, (ids != run.model_config.pad_id).sum(1).tolist()
