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
                                end_learning_rate_fraction, weight_decay, b1, b2, eps, clip_norm (0 = none),
                                ema_decay (0 = off; in (0, 1): evaluation, the best checkpoint and the
                                test read the parameters' moving average, Polyak averaging)
    config.train                batch_size (global, whatever the device count), num_steps,
                                accumulation_steps, log_every, eval_every, checkpoint_every,
                                keep_checkpoints, progress
    config.eval                 batch_size, best_metric, best_mode (``max``/``min``), decode (``greedy``/``beam``),
                                beam_size, alpha, max_decode_length, max_decode_examples (0 = all),
                                no_repeat_ngram_size (decoding never repeats an n-gram of this size in an
                                output: 3 is trigram blocking; 0 = off), min_decode_length (no EOS before
                                this many tokens; 0 = off, at most max_decode_length)
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from typing import Any, Iterable, Sequence

import ml_collections

from attnjax.data import TOKENIZERS
from attnjax.data.sources import SOURCE_KINDS, check_options, parse_source
from attnjax.data.splits import SPLITS
from attnjax.models import MODELS, ModelConfig, validate
from attnjax.train.optim import SCHEDULES, make_optimizer
from attnjax.train.tasks import TASKS

# Fields that change how a run is shown, never what it computes: a resumed or re-run workdir may
# differ in them.
PRESENTATION_FIELDS = (("train", "progress"), ("train", "log_every"))
# Fields added after runs were recorded, with the value that computes what those runs did: at that
# value run_key leaves them out, so a recorded run keeps its key (compare.py reuses its results and
# its workdir resumes) instead of looking like another config.
LATER_FIELDS = (
    (("eval", "no_repeat_ngram_size"), 0),
    (("eval", "min_decode_length"), 0),
    (("model", "coverage"), False),
    (("model", "coverage_loss_weight"), 1.0),
    (("model", "coverage_start_step"), 0),
    (("model", "attention_features"), None),
    (("model", "attention_key_features"), None),
    (("model", "ngram_buckets"), 0),
    (("model", "embed_dim"), None),
    (("model", "encoder_dropout_rate"), 0.0),
    (("model", "head_hidden"), 0),
    (("model", "adversarial_epsilon"), 0.0),
    (("optimizer", "ema_decay"), 0.0),
)


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
    # None by default, but typed: --config.model.query_chunk_size=64 must parse as an int.
    config.model.query_chunk_size = ml_collections.FieldReference(None, field_type=int)
    config.model.key_chunk_size = ml_collections.FieldReference(None, field_type=int)
    config.model.attention_features = ml_collections.FieldReference(None, field_type=int)
    config.model.attention_key_features = ml_collections.FieldReference(None, field_type=int)
    config.model.embed_dim = ml_collections.FieldReference(None, field_type=int)

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
    config.optimizer.ema_decay = 0.0

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
    config.eval.no_repeat_ngram_size = 0
    config.eval.min_decode_length = 0
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
            raise ValueError(unknown_field_message(key, where, target.keys()))
        if isinstance(target[key], ml_collections.ConfigDict) and key != "options":
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{key} must be a group of fields, got {value!r}")
            _merge(target[key], value, f"{where}.{key}")
        elif key == "options":
            target[key] = ml_collections.ConfigDict(value)
        else:
            with target.unlocked():
                target[key] = tuple(value) if isinstance(value, list) else value


def unknown_field_message(field: str, section: str, known: Iterable[str]) -> str:
    """One line: the unknown ``field``, the ``section`` it was looked up in, the nearest known names."""
    known = sorted(known)
    nearest = difflib.get_close_matches(field, known, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(map(repr, nearest))}? " if nearest else ""
    return f"unknown field {field!r} in {section}; {hint}{section} has: {', '.join(known)}"


def check_overrides(args: Sequence[str], prefix: str = "--config.") -> None:
    """ValueError (:func:`unknown_field_message`) for the first command-line override such as
    ``--config.model.atention=1`` that names no field of :func:`default_config`.

    ml_collections' flags would fail on it too, but with chained tracebacks; checking the names
    first gives one line. ``data.options`` is free-form (each source has its own options).
    """
    for arg in args:
        negated = arg.startswith("--no" + prefix[2:])
        if not (arg.startswith(prefix) or negated):
            continue
        path = arg.split("=", 1)[0][len(prefix) + (2 if negated else 0):].split(".")
        section, where = default_config(), "config"
        for key in path:
            if where == "config.data.options":
                break
            if not isinstance(section, ml_collections.ConfigDict):
                raise ValueError(f"{where} is a value, not a section: {arg.split('=', 1)[0]} names no field")
            if key not in section:
                raise ValueError(unknown_field_message(key, where, section.keys()))
            section, where = section[key], f"{where}.{key}"


DECODE_METHODS = ("greedy", "beam")
POSITIVE_INTS = (
    ("train", "batch_size"), ("train", "num_steps"), ("train", "accumulation_steps"), ("train", "log_every"),
    ("train", "eval_every"), ("train", "checkpoint_every"), ("train", "keep_checkpoints"), ("eval", "batch_size"),
    ("data", "max_length"), ("data", "max_target_length"), ("eval", "beam_size"), ("eval", "max_decode_length"),
)


def check_config(config: ml_collections.ConfigDict) -> None:
    """ValueError naming the first bad value of a completed ``config``; reads no data, writes nothing.

    Checks every name (task, model, attention, tokenizer, data source kind and options, splits,
    schedule, decoding, best metric) and every count a run divides or loops by, so that a typo fails
    before a workdir is touched.
    """
    for group, field in POSITIVE_INTS:
        value = config[group][field]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"config.{group}.{field}={value!r}; expected a positive integer")
    for field in ("max_train_examples", "max_eval_examples", "max_test_examples"):
        value = config.data[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"config.data.{field}={value!r}; expected 0 (all) or a positive integer")
    for field in ("no_repeat_ngram_size", "min_decode_length"):
        value = config.eval[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"config.eval.{field}={value!r}; expected 0 (off) or a positive integer")
    if config.eval.min_decode_length > config.eval.max_decode_length:
        raise ValueError(
            f"config.eval.min_decode_length={config.eval.min_decode_length} is longer than "
            f"config.eval.max_decode_length={config.eval.max_decode_length}; lower the first or raise the second"
        )
    if config.train.batch_size % config.train.accumulation_steps:
        raise ValueError(
            f"config.train.batch_size={config.train.batch_size} is not a multiple of "
            f"config.train.accumulation_steps={config.train.accumulation_steps}"
        )
    task = _named("config.task", config.task, TASKS)
    if config.eval.best_metric not in task.metric_names:
        raise ValueError(
            f"config.eval.best_metric={config.eval.best_metric!r} is not a {config.task} metric; "
            f"expected one of: {', '.join(task.metric_names)}"
        )
    if config.eval.best_mode not in ("max", "min"):
        raise ValueError(f"config.eval.best_mode={config.eval.best_mode!r}; expected 'max' or 'min'")
    if config.eval.decode not in DECODE_METHODS:
        raise ValueError(f"config.eval.decode={config.eval.decode!r}; expected one of: {', '.join(DECODE_METHODS)}")
    _named("config.data.tokenizer", config.data.tokenizer, TOKENIZERS)
    for field in ("train_split", "eval_split") + (("test_split",) if config.data.test_split else ()):
        if config.data[field] not in SPLITS:
            raise ValueError(f"config.data.{field}={config.data[field]!r}; expected one of: {', '.join(SPLITS)}")
    try:
        kind, _ = parse_source(config.data.source)
        check_options(f"data source {config.data.source!r}", SOURCE_KINDS.get(kind), config.data.options.to_dict(), skip=1)
    except ValueError as error:
        raise ValueError(f"config.data: {error}") from None
    _named("config.optimizer.schedule", config.optimizer.schedule, SCHEDULES)
    model = config.model.to_dict()
    model["vocab_size"] = config.data.vocab_size  # the tokenizer's size is known only once it is trained
    try:
        validate(model)
    except ValueError as error:  # the model's messages say config.<field>: name the section
        raise ValueError(str(error).replace("config.", "config.model.")) from None
    start = config.model.get("coverage_start_step", 0)
    if config.model.get("coverage", False) and start and start >= config.train.num_steps:
        raise ValueError(
            f"config.model.coverage_start_step={start} is not below config.train.num_steps="
            f"{config.train.num_steps}: coverage would never turn on; set it below num_steps (See et al. "
            "trained the last 3,000 of their steps with coverage), or 0 for coverage from the first step"
        )
    make_optimizer(config.optimizer, config.train.num_steps)


def _named(where: str, name: Any, registry: Any) -> Any:
    if name not in registry:
        nearest = difflib.get_close_matches(str(name), registry.names(), n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(map(repr, nearest))}?)" if nearest else ""
        raise ValueError(f"{where}={name!r} is unknown{hint}; expected one of: {', '.join(registry.names())}")
    return registry.get(name)


def run_key(config: Any) -> str:
    """A short hash of what a run computes (presentation fields excluded, and :data:`LATER_FIELDS`
    at their old value; the model's ``ModelSpec.revision`` included when > 0): equal configs and
    code, equal runs."""
    data = as_dict(config)
    for group, field in PRESENTATION_FIELDS:
        data.get(group, {}).pop(field, None)
    for (group, field), old_value in LATER_FIELDS:
        if data.get(group, {}).get(field, old_value) == old_value:
            data.get(group, {}).pop(field, None)
    model = data.get("model", {}).get("model")
    revision = MODELS.get(model).revision if model in MODELS else 0
    if revision:
        data["model_revision"] = revision
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
