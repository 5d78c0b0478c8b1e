"""``ModelConfig``: every field a model reads, with checks that name the field and allowed values.

A config can be given as a :class:`ModelConfig`, a mapping (``dict``), an
``ml_collections.ConfigDict`` (anything with ``to_dict()``) or another dataclass; see
:func:`to_config`. Fields a model does not use are ignored by it (a classifier has no decoder).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Optional

import jax.numpy as jnp

from attnjax import ops
from attnjax.nn import POSITIONAL
from attnjax.ops import Score

NO_ATTENTION = "none"

# Compute dtypes by config name. Parameters stay float32 whatever the choice; softmax and the model
# outputs are float32 too, so only activations and matmul operands narrow.
DTYPES: dict[str, Any] = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of every model in :mod:`attnjax.models`.

    Attributes:
      model: registered model name (``classifier``, ``seq2seq_transformer``, ``seq2seq_rnn``).
      attention: a registered score name (:func:`attnjax.ops.list_scores`) or ``"none"``.
      vocab_size: token vocabulary (id 0 is padding); shared by source and target.
      num_classes: classifier outputs.
      d_model: embedding / hidden size; RNN hidden size.
      num_heads: attention heads (1 = single-head attention); must divide ``d_model``.
      attention_features: classifier and Transformer models: the q/k/v width of every attention
        layer (so ``d_k = attention_features / num_heads``); None: ``d_model``. The key width of
        Vaswani et al. (2017)'s scaling argument, separate from the model width; must be a
        multiple of ``num_heads``.
      attention_key_features: classifier and Transformer models: the query/key width alone
        (``d_k = attention_key_features / num_heads``), the value and output keeping
        ``attention_features``; None: ``attention_features``. Vaswani et al.'s d_k apart from
        their d_v: the scores see q and k only, so this widens what the scaling argument is about
        at a third less cost than ``attention_features``; a multiple of ``num_heads``.
      num_layers, num_decoder_layers: Transformer encoder / decoder depth.
      mlp_dim: Transformer feed-forward width.
      dropout_rate, attention_dropout_rate: in [0, 1).
      embedding_dropout_rate: classifier: dropout on the token embeddings, in [0, 1).
      encoder_dropout_rate: classifier: dropout on the encoder's outputs before the pooling, in
        [0, 1) (Flax's examples/sst2 drops the BiLSTM states at its dropout rate, 0.5).
      head_hidden: classifier: 0 for a linear layer from the pooled vector to the logits; n > 0
        for an MLP head, ``Dense(n) -> tanh -> dropout(dropout_rate) -> Dense(num_classes)``
        (Flax's examples/sst2 uses n = its LSTM width).
      adversarial_epsilon: classifier: adversarial training on the token embeddings (Miyato et al.
        2017): each training step adds the loss of the same batch with every example's embeddings
        ``[length, width]`` moved by ``epsilon * g / |g|``, ``g`` the clean loss's gradient with
        respect to them (``|.|``: over the example's tokens and features); about twice the cost of a
        step. A number >= 0, in the units of the embeddings (a token's embedding has norm about 1 at
        Flax's initialisation); 0: off.
      embed_dim: classifier: token embedding width; None: ``d_model``. Wider embeddings than the
        encoder are cheap (a gather) where the encoder's width is what costs (Flax's
        examples/sst2: 300-wide embeddings into a 256-unit LSTM); the Transformer encoder projects
        them to ``d_model``, the RNN encoders read them as they are.
      word_dropout_rate: classifier: share of input tokens replaced by ``unk_id`` while training,
        in [0, 1) (Flax's examples/sst2 uses 0.1).
      pre_norm: layer norm before (True) or after (False) each residual sub-layer.
      positional: ``sinusoidal``, ``learned``, ``rotary`` or ``none`` (Transformer models).
      max_length: longest sequence (learned positions and decoding).
      encoder: classifier encoder: ``transformer``, ``lstm``, ``gru`` or ``bag`` (none: each position
        keeps its embedding, so the pooling is the only place the words meet, as in fastText).
      ngram_buckets: classifier: hashed word-bigram embeddings, ``ngram_buckets`` rows, added to
        each token's embedding (the bigram it starts; fastText's bigram features, Joulin et al.
        2017); 0: none.
      pooling: classifier pooling: ``cls``, ``mean``, ``attention`` (a learned query attends with the
        chosen score) or ``structured`` (Lin et al. 2017 multi-hop self-attentive pooling).
      pooling_hidden, num_hops: sizes of ``structured`` pooling.
      cell: ``lstm`` or ``gru``, for ``seq2seq_rnn``.
      pointer: ``seq2seq_rnn`` and ``seq2seq_transformer`` with the pointer-generator copy
        mechanism (See et al. 2017).
      coverage: seq2seq models: the decoder's attention over the source (the RNN's attention, the
        Transformer's cross-attention) reads the coverage, the sum of the earlier steps'
        attention, and a coverage loss is added (See et al. 2017, section 2.3). Needs attention
        and the full (not chunked) attention weights.
      coverage_loss_weight: weight of the coverage loss, a number >= 0 (See et al. used 1).
      coverage_start_step: with ``coverage``, the training step at which coverage turns on (See et
        al.'s coverage phase: they trained the pointer-generator, then added coverage for the last
        3,000 steps). Before it the model trains as one without coverage (its coverage parameters,
        which start at zero, get no gradient and the coverage loss weighs 0;
        :func:`attnjax.models.coverage_phase`); 0: coverage from the first step. Without
        ``coverage`` it has no effect, so ``coverage=False`` alone turns off a scheduled coverage.
      use_chunked, query_chunk_size, key_chunk_size: memory-efficient attention (no weights sown).
      pad_id: padding token id.
      unk_id: unknown-word token id (the tokenizers' shared id 3), what word dropout writes.
      dtype: compute dtype, ``float32``, ``bfloat16`` or ``float16`` (:data:`DTYPES`): embeddings,
        dense layers, layer norms, attention and recurrent states compute in it; parameters stay
        float32 and outputs (logits / log-probs) are returned as float32.
    """

    model: str = "classifier"
    attention: str = "scaled_dot"
    vocab_size: int = 32
    num_classes: int = 2
    d_model: int = 32
    num_heads: int = 4
    attention_features: Optional[int] = None
    attention_key_features: Optional[int] = None
    num_layers: int = 2
    num_decoder_layers: int = 2
    mlp_dim: int = 64
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.0
    embedding_dropout_rate: float = 0.0
    encoder_dropout_rate: float = 0.0
    head_hidden: int = 0
    adversarial_epsilon: float = 0.0
    embed_dim: Optional[int] = None
    word_dropout_rate: float = 0.0
    pre_norm: bool = True
    positional: str = "sinusoidal"
    max_length: int = 512
    encoder: str = "transformer"
    pooling: str = "mean"
    ngram_buckets: int = 0
    pooling_hidden: int = 32
    num_hops: int = 1
    cell: str = "lstm"
    pointer: bool = False
    coverage: bool = False
    coverage_loss_weight: float = 1.0
    coverage_start_step: int = 0
    use_chunked: bool = False
    query_chunk_size: Optional[int] = None  # None: chosen by attnjax.ops.chunked_attention
    key_chunk_size: Optional[int] = None
    pad_id: int = 0
    unk_id: int = 3
    dtype: str = "float32"

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    @property
    def score(self) -> Optional[Score]:
        """The attention score, resolved once from its name; None for ``attention="none"``."""
        if self.attention == NO_ATTENTION:
            return None
        return ops.get_score(self.attention)

    @property
    def compute_dtype(self) -> Any:
        """The jnp dtype named by ``dtype``; ValueError listing the allowed names otherwise."""
        check_choice("dtype", self.dtype, DTYPES)
        return DTYPES[self.dtype]


FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig))
POSITIVE_FIELDS = (
    "vocab_size", "num_classes", "d_model", "num_heads", "num_layers", "num_decoder_layers",
    "mlp_dim", "max_length", "pooling_hidden", "num_hops",
)
OPTIONAL_POSITIVE_FIELDS = (
    "query_chunk_size", "key_chunk_size", "attention_features", "attention_key_features", "embed_dim",
)  # None or a positive integer


def to_config(config: Any = None, **overrides: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a ModelConfig, mapping, ConfigDict or dataclass (plus overrides)."""
    if config is None:
        values: dict[str, Any] = {}
    elif isinstance(config, ModelConfig):
        values = dataclasses.asdict(config)
    elif hasattr(config, "to_dict"):
        values = dict(config.to_dict())
    elif dataclasses.is_dataclass(config) and not isinstance(config, type):
        values = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        values = dict(config)
    else:
        raise ValueError(
            f"config must be a ModelConfig, dict, ConfigDict or dataclass, got {type(config).__name__}"
        )
    values.update(overrides)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; allowed fields: {', '.join(FIELDS)}")
    return ModelConfig(**values)


def check_choice(field: str, value: Any, allowed: Iterable[str]) -> None:
    """ValueError naming ``field``, the value and the allowed values, unless ``value`` is allowed."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"config.{field}={value!r} is not allowed; expected one of: {', '.join(allowed)}")


def refuse_adversarial(config: ModelConfig) -> None:
    """For models whose loss has no adversarial step: ValueError unless ``adversarial_epsilon`` is 0."""
    if config.adversarial_epsilon:
        raise ValueError(
            f"config.adversarial_epsilon={config.adversarial_epsilon!r} is not allowed for "
            f"model={config.model!r}; expected 0 (adversarial training is the classifier's: model='classifier')"
        )


def check_common(config: ModelConfig) -> None:
    """Checks every model shares: attention name, sizes, heads dividing d_model, dropout rates."""
    check_choice("attention", config.attention, ops.list_scores() + (NO_ATTENTION,))
    check_choice("positional", config.positional, POSITIONAL)
    check_choice("dtype", config.dtype, DTYPES)
    for field in POSITIVE_FIELDS:
        value = getattr(config, field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"config.{field}={value!r} is not allowed; expected a positive integer")
    for field in OPTIONAL_POSITIVE_FIELDS:
        value = getattr(config, field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            raise ValueError(f"config.{field}={value!r} is not allowed; expected None or a positive integer")
    if config.d_model % config.num_heads:
        divisors = [h for h in range(1, config.d_model + 1) if config.d_model % h == 0]
        raise ValueError(
            f"config.num_heads={config.num_heads} does not divide config.d_model={config.d_model}; "
            f"expected one of: {', '.join(map(str, divisors))}"
        )
    for field, default in (("attention_features", "d_model"), ("attention_key_features", "attention_features")):
        value = getattr(config, field)
        if value is not None and value % config.num_heads:
            raise ValueError(
                f"config.num_heads={config.num_heads} does not divide config.{field}={value}; "
                f"expected a multiple of num_heads, or None ({default})"
            )
    for field in (
        "dropout_rate", "attention_dropout_rate", "embedding_dropout_rate", "encoder_dropout_rate", "word_dropout_rate",
    ):
        value = getattr(config, field)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"config.{field}={value!r} is not allowed; expected a number in [0, 1)")
    hidden = config.head_hidden
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 0:
        raise ValueError(
            f"config.head_hidden={hidden!r} is not allowed; expected 0 (a linear head) or a positive "
            "hidden width for an MLP head, e.g. 128"
        )
    epsilon = config.adversarial_epsilon
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0.0 <= epsilon < float("inf"):
        raise ValueError(
            f"config.adversarial_epsilon={epsilon!r} is not allowed; expected a finite number >= 0 "
            "(0: no adversarial training; e.g. 1.0)"
        )
    buckets = config.ngram_buckets
    if not isinstance(buckets, int) or isinstance(buckets, bool) or buckets < 0:
        raise ValueError(
            f"config.ngram_buckets={buckets!r} is not allowed; expected 0 (no bigram features) or a "
            "positive number of hash buckets, e.g. 262144"
        )
    if not isinstance(config.coverage, bool):
        raise ValueError(f"config.coverage={config.coverage!r} is not allowed; expected True or False")
    weight = config.coverage_loss_weight
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight < float("inf"):
        raise ValueError(
            f"config.coverage_loss_weight={weight!r} is not allowed; expected a finite number >= 0"
        )
    start = config.coverage_start_step
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ValueError(
            f"config.coverage_start_step={start!r} is not allowed; expected a whole number of steps "
            ">= 0 (0: coverage from the first step)"
        )
    if config.coverage and config.attention == NO_ATTENTION:
        raise ValueError(
            "config.coverage=True is not allowed with attention='none': coverage sums attention "
            f"weights; choose one of: {', '.join(ops.list_scores())}, or set coverage=False"
        )
    if config.coverage and config.use_chunked:
        raise ValueError(
            "config.coverage=True is not allowed with use_chunked=True: coverage sums the attention "
            "weights, which chunked attention never builds; set one of them to False"
        )
    for field in ("pad_id", "unk_id"):
        value = getattr(config, field)
        if not 0 <= value < config.vocab_size:
            raise ValueError(f"config.{field}={value!r} is not allowed; expected 0 <= {field} < vocab_size")
