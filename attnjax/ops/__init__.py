"""attnjax.ops: pure attention functions of arrays (no Flax, no global state).

Shapes follow ``jax.nn.dot_product_attention``: ``[batch, length, heads, head_dim]``.

>>> import jax, attnjax.ops as ops
>>> q = k = v = jax.random.normal(jax.random.key(0), (2, 16, 4, 32))
>>> additive = ops.get_score("additive")
>>> params = additive.init(jax.random.key(1), num_heads=4, head_dim=32)
>>> out = ops.attention(q, k, v, score=additive, score_params=params, is_causal=True)
"""

from attnjax.ops.attention import attention, attention_implementation, dropout_keep_mask
from attnjax.ops.backends import BACKENDS, AttentionCall, Backend, BackendChoice, choose_backend
from attnjax.ops.chunked import chunked_attention
from attnjax.ops.coverage import Covered, coverage_attention, coverage_loss
from attnjax.ops.masks import (
    attention_mask,
    causal_mask,
    combine_masks,
    key_padding_mask,
    padding_mask,
    padding_mask_from_ids,
)
from attnjax.ops.pooling import attention_pooling, attention_pooling_init, pooling_penalty
from attnjax.ops.scores import (
    LOGIT_COVERAGE,
    SCORES,
    AdditiveForm,
    CoverageForm,
    DotForm,
    Score,
    get_score,
    list_scores,
    register_score,
)
from attnjax.ops.softmax import mask_logits, masked_softmax, softmax_weighted_sum
from attnjax.ops.additive import tanh_sum

__all__ = [
    "AdditiveForm",
    "BACKENDS",
    "AttentionCall",
    "Backend",
    "BackendChoice",
    "CoverageForm",
    "Covered",
    "LOGIT_COVERAGE",
    "SCORES",
    "DotForm",
    "Score",
    "attention",
    "attention_implementation",
    "attention_mask",
    "attention_pooling",
    "attention_pooling_init",
    "causal_mask",
    "choose_backend",
    "chunked_attention",
    "combine_masks",
    "coverage_attention",
    "coverage_loss",
    "dropout_keep_mask",
    "get_score",
    "key_padding_mask",
    "list_scores",
    "mask_logits",
    "masked_softmax",
    "padding_mask",
    "padding_mask_from_ids",
    "pooling_penalty",
    "register_score",
    "softmax_weighted_sum",
    "tanh_sum",
]
