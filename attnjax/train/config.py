"""The training config: every field :func:`attnjax.train.train_and_evaluate` reads, with defaults.

An experiment config (``experiments/configs/*.py``) starts from :func:`default_config` and changes
what it needs; the command line overrides any field (``--config.model.attention=additive``).

    config.seed                 int; parameters, dropout and data order all derive from it
    config.task                 ``classification`` or ``summarization`` (attnjax.train.TASKS)
    config.data.source          ``builtin:sentiment``, ``tfds:glue/sst2``, a file path, ...
    config.data.options         keyword options of the source (``data_dir``, ``fields``, ``seed``, ...)
    config.data.{train,eval,test}_split   split names; ``test_split=""`` skips the final test
    config.data.max_{train,eval,test}_examples   0 = all; >0 keeps the first N (quick runs)
    config.data.tokenizer       ``word``, ``sentencepiece`` or ``byte``; ``vocab_size``, ``lower``, ``strip_html``
    config.data.max_length, max_target_length, bucket_lengths, target_bucket_lengths
    config.model                :class:`attnjax.models.ModelConfig` fields (``vocab_size`` comes from the tokenizer)
    config.optimizer            AdamW: learning_rate, schedule (``cosine``/``rsqrt``/``constant``), warmup_steps,
                                end_learning_rate_fraction, weight_decay, b1, b2, eps, clip_norm (0 = none)
    config.train                batch_size (global, whatever the device count), num_steps,
                                accumulation_steps, log_every, eval_every, checkpoint_every,
                                keep_checkpoints, progress
    config.eval                 batch_size, best_metric, best_mode (``max``/``min``), decode (``greedy``/``beam``),
                                beam_size, alpha, max_decode_length, max_decode_examples (0 = all)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import ml_collections

from attnjax.models import ModelConfig

# Fields that change how a run is shown, never what it computes: a resumed or re-run workdir may
# differ in them.
PRESENTATION_FIELDS = (("train", "progress"), ("train", "log_every"))


def default_config() -> ml_collections.ConfigDict:
    """Defaults for every field; a small classifier on the built-in sentiment task."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.task = "classification"

    config.data = ml_collections.ConfigDict()
    config.data.source = "builtin:sentiment"
    config.data.options = ml_collections.ConfigDict()
    config.data.train_split = "train"
    config.data.eval_split = "validation"
    config.data.test_split = "test"
    config.data.max_train_examples = 0
    config.data.max_eval_examples = 0
    config.data.max_test_examples = 0
    config.data.tokenizer = "word"
    config.data.vocab_size = 8000
    config.data.lower = True
    config.data.strip_html = False
    config.data.max_length = 64
    config.data.max_target_length = 32
    config.data.bucket_lengths = (32, 64)
    config.data.target_bucket_lengths = (32,)

    config.model = ml_collections.ConfigDict(
        {k: v for k, v in dataclasses.asdict(ModelConfig()).items() if v is not None}
    )
    config.model.query_chunk_size = ml_collections.config_dict.placeholder(int)
    config.model.key_chunk_size = ml_collections.config_dict.placeholder(int)

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.learning_rate = 1e-3
    config.optimizer.schedule = "cosine"
    config.optimizer.warmup_steps = 100
    config.optimizer.end_learning_rate_fraction = 0.0
    config.optimizer.weight_decay = 0.01
    config.optimizer.b1 = 0.9
    config.optimizer.b2 = 0.98
    config.optimizer.eps = 1e-9
    config.optimizer.clip_norm = 1.0

    config.train = ml_collections.ConfigDict()
    config.train.batch_size = 32
    config.train.num_steps = 1000
    config.train.accumulation_steps = 1
    config.train.log_every = 50
    config.train.eval_every = 250
    config.train.checkpoint_every = 250
    config.train.keep_checkpoints = 2
    config.train.progress = True

    config.eval = ml_collections.ConfigDict()
    config.eval.batch_size = 64
    config.eval.best_metric = "accuracy"
    config.eval.best_mode = "max"
    config.eval.decode = "greedy"
    config.eval.beam_size = 4
    config.eval.alpha = 0.6
    config.eval.max_decode_length = 32
    config.eval.max_decode_examples = 0
    return config


def as_dict(config: Any) -> dict:
    """A plain nested dict of a ConfigDict / mapping (tuples become lists, as in JSON)."""
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return json.loads(json.dumps(data, sort_keys=True, default=str))


def complete(config: Any) -> ml_collections.ConfigDict:
    """``config`` on top of :func:`default_config`: missing fields get defaults, unknown ones fail.

    Accepts a ConfigDict or a nested dict, so tests and notebooks can pass only what they change.
    """
    full = default_config()
    _merge(full, as_dict(config), "config")
    return full


def _merge(target: ml_collections.ConfigDict, values: dict, where: str) -> None:
    for key, value in values.items():
        if key not in target:
            raise ValueError(
                f"unknown field {where}.{key}; expected one of: {', '.join(sorted(target.keys()))}"
            )
        if isinstance(target[key], ml_collections.ConfigDict) and key != "options":
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{key} must be a group of fields, got {value!r}")
            _merge(target[key], value, f"{where}.{key}")
        elif key == "options":
            target[key] = ml_collections.ConfigDict(value)
        else:
            with target.unlocked():
                target[key] = tuple(value) if isinstance(value, list) else value


def run_key(config: Any) -> str:
    """A short hash of what a run computes (presentation fields excluded): equal configs, equal runs."""
    data = as_dict(config)
    for group, field in PRESENTATION_FIELDS:
        data.get(group, {}).pop(field, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
