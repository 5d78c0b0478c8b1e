"""attnjax.models: task models registered by name and built from a config.

>>> from attnjax.models import build_model, init_model
>>> model, params = init_model({"model": "classifier", "attention": "additive"}, jax.random.key(0))
>>> logits = model.apply({"params": params}, tokens)          # [batch, num_classes]
"""

# Importing the model modules registers them in MODELS.
from attnjax.models.classifier import Classifier
from attnjax.models.seq2seq_rnn import Seq2SeqRNN
from attnjax.models.seq2seq_transformer import Seq2SeqTransformer
from attnjax.models.components import ENCODERS, POOLINGS
from attnjax.models.config import DTYPES, NO_ATTENTION, ModelConfig, to_config
from attnjax.models.encoder_decoder import AUX_LOSSES
from attnjax.models.coverage_phase import COVERAGE_LOSS, coverage_phase
from attnjax.models.decoding import beam_decode, beam_search, greedy_decode, greedy_search
from attnjax.models.registry import (
    MODELS, ModelSpec, build_model, example_inputs, init_model, validate, with_attention,
)
from attnjax.models.summary import count_params, model_summary, summarize

__all__ = [
    "AUX_LOSSES",
    "COVERAGE_LOSS",
    "DTYPES",
    "ENCODERS",
    "MODELS",
    "NO_ATTENTION",
    "POOLINGS",
    "Classifier",
    "Seq2SeqRNN",
    "Seq2SeqTransformer",
    "ModelConfig",
    "ModelSpec",
    "beam_decode",
    "beam_search",
    "build_model",
    "count_params",
    "coverage_phase",
    "example_inputs",
    "greedy_decode",
    "greedy_search",
    "init_model",
    "model_summary",
    "summarize",
    "to_config",
    "validate",
    "with_attention",
]
