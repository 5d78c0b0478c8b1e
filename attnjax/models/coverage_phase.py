"""See et al. (2017)'s coverage phase: train without coverage, then turn it on for the last steps.

They trained the pointer-generator for 230k steps and only then added the coverage mechanism and
loss for 3,000 more ("training with coverage from the first iteration ... the coverage objective
interfered with the main objective", section 5). With ``config.coverage_start_step = N`` a model
with ``coverage=True`` trains as one without coverage until step N: every coverage parameter
(``w_c``, the parameter ``coverage`` of :class:`attnjax.nn.Attention`) starts at zero, so the
score ignores the coverage, and :func:`coverage_phase` stops its gradient, so it stays zero; the
coverage loss is still computed (the metric ``coverage_loss`` shows it before the phase) but
weighs 0. From step N both are on. One compiled step serves both phases (the switch is a traced
comparison with the step), and resuming in either phase computes the same.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from attnjax.models.config import ModelConfig
from attnjax.nn import COVERAGE_PARAM

Array = jax.Array
COVERAGE_LOSS = "coverage"  # the auxiliary loss the seq2seq models sow


def _is_coverage(path) -> bool:
    return any(getattr(entry, "key", None) == COVERAGE_PARAM for entry in path)


def coverage_phase(config: ModelConfig, params: Any, step: Array) -> tuple[Any, Array]:
    """``(params, loss_scale)`` for training step ``step``: before ``config.coverage_start_step``
    the coverage parameters with their gradient stopped and a loss scale of 0.0, from it the
    params unchanged and 1.0 (also for ``coverage_start_step=0`` and models without coverage).
    Multiply the sown coverage loss by ``loss_scale``."""
    if not config.coverage or not config.coverage_start_step:
        return params, jnp.ones((), jnp.float32)
    on = jnp.asarray(step) >= config.coverage_start_step

    def hold(path, leaf):
        return jnp.where(on, leaf, jax.lax.stop_gradient(leaf)) if _is_coverage(path) else leaf

    return jax.tree_util.tree_map_with_path(hold, params), on.astype(jnp.float32)
