"""attnjax.nn: Flax (linen) modules built on :mod:`attnjax.ops`.

Every module that attends takes its score as a registered name or an :class:`attnjax.ops.Score`,
so swapping the attention variant is one attribute. Attention weights are sown in the
``intermediates`` collection; decoding caches live in the ``cache`` collection.
"""

from attnjax.nn.attention import COVERAGE_PARAM, Attention
from attnjax.nn.pooling import AttentionPooling, QueryAttentionPooling, first_pool, mean_pool
from attnjax.nn.positional import (
    POSITIONAL,
    LearnedPositionalEncoding,
    Positional,
    SinusoidalPositionalEncoding,
    apply_rotary,
    get_positional,
    sinusoidal_table,
)
from attnjax.nn.recurrent import CELLS, AttentionDecoderCell, RNNDecoder, RNNEncoder, get_cell
from attnjax.nn.transformer import (
    DecoderLayer,
    EncoderLayer,
    FeedForward,
    LayerConfig,
    Residual,
    TransformerDecoder,
    TransformerEncoder,
)

__all__ = [
    "COVERAGE_PARAM",
    "CELLS",
    "POSITIONAL",
    "Attention",
    "AttentionDecoderCell",
    "AttentionPooling",
    "DecoderLayer",
    "EncoderLayer",
    "FeedForward",
    "LayerConfig",
    "LearnedPositionalEncoding",
    "Positional",
    "QueryAttentionPooling",
    "RNNDecoder",
    "RNNEncoder",
    "Residual",
    "SinusoidalPositionalEncoding",
    "TransformerDecoder",
    "TransformerEncoder",
    "apply_rotary",
    "first_pool",
    "get_cell",
    "get_positional",
    "mean_pool",
    "sinusoidal_table",
]
