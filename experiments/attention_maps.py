"""Attention weights of a finished run on a few examples, stored for the heatmap plots.

``store(workdir, split)`` loads the run's best parameters (:func:`attnjax.train.load_run`), takes
the first ``count`` examples of ``split`` and writes ``attention.json``:

    {"kind": "classification", "examples": [{"index", "tokens": [str] * L, "weights": [float] * L,
                                             "label", "prediction"}]}
    {"kind": "summarization", "examples": [{"index", "tokens": [str] * S, "summary_tokens": [str] * T,
                                            "weights": [[float] * S] * T}]}

Classification weights are the pooling attention over tokens (the learned query's weights), or,
for a model without attention pooling, the last encoder layer's self-attention averaged over
queries. Summarization weights are the cross-attention (the RNN decoder's attention, or the last
Transformer decoder layer's cross-attention) while the model reads its own greedy summary. Heads
are averaged. A model without attention stores ``"examples": []`` and the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

ATTENTION_FILE = "attention.json"


def _weights(intermediates: Any, prefer: tuple[str, ...]) -> Optional[np.ndarray]:
    """The sown weights whose path contains the first of ``prefer`` found (last such layer)."""
    leaves = [(jax.tree_util.keystr(path), leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(intermediates)[0]]
    for word in prefer:
        found = [leaf for path, leaf in leaves if word in path and ("attention_weights" in path or "pooling_weights" in path)]
        if found:
            return np.asarray(found[-1], np.float32)
    return None


def _tokens(tokenizer: Any, ids: np.ndarray) -> list[str]:
    return [tokenizer.decode([int(i)]) or "·" for i in ids]


def _classification(run: Any, examples: list[dict]) -> list[dict]:
    out = []
    for index, example in enumerate(examples):
        ids = run.tokenizer.encode_batch([example["text"]], run.config.data.max_length)[0]
        logits, state = run.model.apply({"params": run.params}, jnp.asarray(ids)[None], mutable=["intermediates"])
        weights = _weights(state["intermediates"], ("pooling", "self_attention"))
        if weights is None:
            return []
        # [1, heads, queries, L] -> [L]: mean over heads and queries (one query for pooling).
        per_token = weights[0].reshape(-1, weights.shape[-1]).mean(0) if weights.ndim == 4 else weights[0].mean(0)
        out.append({
            "index": index, "tokens": _tokens(run.tokenizer, ids), "weights": per_token.round(5).tolist(),
            "label": int(example["label"]), "prediction": int(np.argmax(logits[0])),
        })
    return out


def _summarization(run: Any, examples: list[dict]) -> list[dict]:
    from attnjax.train.tasks import BOS_ID, EOS_ID, decode_ids, shift_right

    out = []
    for index, example in enumerate(examples):
        ids = run.tokenizer.encode_batch([example["document"]], run.config.data.max_length)[0]
        inputs = jnp.asarray(ids)[None]
        decoded = np.asarray(decode_ids(run.model, run.params, inputs, run.config.eval))[0]
        end = np.flatnonzero(decoded == EOS_ID)
        summary = decoded[: end[0] + 1] if end.size else decoded
        _, state = run.model.apply(
            {"params": run.params}, inputs, shift_right(jnp.asarray(summary)[None], BOS_ID), mutable=["intermediates"]
        )
        weights = _weights(state["intermediates"], ("cross_attention", "decoder"))
        if weights is None:
            return []
        out.append({
            "index": index, "tokens": _tokens(run.tokenizer, ids),
            "summary_tokens": _tokens(run.tokenizer, summary),
            "weights": weights[0].mean(0).round(5).tolist(),  # [T, S]
        })
    return out


def store(workdir: str | Path, split: str = "validation", count: int = 3) -> dict:
    """Writes ``workdir/attention.json`` (see the module docstring) and returns its content."""
    from attnjax.data import open_source, split_of
    from attnjax.train import load_run

    workdir = Path(workdir)
    run = load_run(workdir, which="best")
    kind = "classification" if run.model_config.model == "classifier" else "summarization"
    data = run.config.data
    examples = split_of(open_source(data.source, **data.options.to_dict()), split)
    examples = [examples[i] for i in range(min(count, len(examples)))]
    if run.model_config.attention == "none":
        content = {"kind": kind, "examples": [], "reason": "the model has no attention"}
    else:
        maps = (_classification if kind == "classification" else _summarization)(run, examples)
        content = {"kind": kind, "split": split, "examples": maps}
        if not maps:
            content["reason"] = "no attention weights were sown (chunked attention sows none)"
    tmp = workdir / (ATTENTION_FILE + ".tmp")
    tmp.write_text(json.dumps(content) + "\n")
    os.replace(tmp, workdir / ATTENTION_FILE)
    return content
