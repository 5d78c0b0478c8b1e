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


def _padded(run: Any, texts: list[str]) -> tuple[np.ndarray, list[int]]:
    """Ids ``[N, L]`` from :meth:`LoadedRun.encode` (one batch, one compile) and each row's length."""
    ids = run.encode(texts)
    return ids, (ids != run.model_config.pad_id).sum(1).tolist()


def _classification(run: Any, examples: list[dict]) -> list[dict]:
    ids, lengths = _padded(run, [e["text"] for e in examples])
    logits, state = run.model.apply({"params": run.params}, jnp.asarray(ids), mutable=["intermediates"])
    weights = _weights(state["intermediates"], ("pooling", "self_attention"))
    if weights is None:
        return []
    # [N, heads, queries, L] -> [N, L]: mean over heads and queries (one query for pooling).
    per_token = weights.mean(axis=(1, 2)) if weights.ndim == 4 else weights.mean(1)
    return [
        {
            "index": i, "tokens": _tokens(run.tokenizer, ids[i, :n]), "weights": per_token[i, :n].round(5).tolist(),
            "label": int(e["label"]), "prediction": int(np.argmax(logits[i])),
        }
        for i, (e, n) in enumerate(zip(examples, lengths))
    ]


def _summarization(run: Any, examples: list[dict]) -> list[dict]:
    from attnjax.train.tasks import BOS_ID, EOS_ID, decode_ids, shift_right

    ids, lengths = _padded(run, [e["document"] for e in examples])
    inputs = jnp.asarray(ids)
    decoded = np.asarray(decode_ids(run.model, run.params, inputs, run.config.eval))  # [N, T]
    _, state = run.model.apply(
        {"params": run.params}, inputs, shift_right(jnp.asarray(decoded), BOS_ID), mutable=["intermediates"]
    )
    weights = _weights(state["intermediates"], ("cross_attention", "decoder"))
    if weights is None:
        return []
    out = []
    for i, n in enumerate(lengths):
        end = np.flatnonzero(decoded[i] == EOS_ID)
        t = end[0] + 1 if end.size else decoded.shape[1]  # the summary up to its EOS
        out.append({
            "index": i, "tokens": _tokens(run.tokenizer, ids[i, :n]),
            "summary_tokens": _tokens(run.tokenizer, decoded[i, :t]),
            "weights": weights[i].mean(0)[:t, :n].round(5).tolist(),  # [T, S], heads averaged
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
