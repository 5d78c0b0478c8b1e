"""The optimizer: AdamW with warmup, a decay schedule chosen by name, and gradient clipping."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from attnjax.registry import Registry

Schedule = Callable[[Any], Any]

SCHEDULES: Registry[Callable[[Any, int], Schedule]] = Registry("learning-rate schedule")


def _with_warmup(opt: Any, decay: Schedule) -> Schedule:
    """Linear warmup from 0 over ``warmup_steps`` (none when 0), then ``decay(step - warmup_steps)``."""
    if opt.warmup_steps == 0:
        return decay
    warmup = optax.linear_schedule(0.0, opt.learning_rate, opt.warmup_steps)
    return optax.join_schedules([warmup, decay], [opt.warmup_steps])


@SCHEDULES.register("cosine")
def cosine(opt: Any, num_steps: int) -> Schedule:
    """Linear warmup, then cosine decay to ``end_learning_rate_fraction * learning_rate`` at ``num_steps``."""
    decay = optax.cosine_decay_schedule(
        opt.learning_rate, max(num_steps - opt.warmup_steps, 1), alpha=opt.end_learning_rate_fraction
    )
    return _with_warmup(opt, decay)


@SCHEDULES.register("rsqrt")
def rsqrt(opt: Any, num_steps: int) -> Schedule:
    """Linear warmup, then ``learning_rate * sqrt(warmup_steps / step)`` (Vaswani et al. 2017)."""
    del num_steps
    warmup = max(opt.warmup_steps, 1)
    # join_schedules also evaluates the decay before the boundary (negative steps): keep it finite.
    return _with_warmup(opt, lambda step: opt.learning_rate * jnp.sqrt(warmup / jnp.maximum(step + warmup, 1)))


@SCHEDULES.register("constant")
def constant(opt: Any, num_steps: int) -> Schedule:
    """Linear warmup, then constant."""
    del num_steps
    return _with_warmup(opt, optax.constant_schedule(opt.learning_rate))


def _decay_mask(params: Any) -> Any:
    # Weight decay on matrices only: biases, layer-norm scales and embeddings' 1-d params are left alone.
    return jax.tree.map(lambda p: p.ndim > 1, params)


def make_optimizer(opt: Any, num_steps: int) -> tuple[optax.GradientTransformation, Schedule]:
    """``(tx, schedule)`` from ``config.optimizer``; ``clip_norm <= 0`` disables clipping."""
    if opt.learning_rate <= 0:
        raise ValueError(f"config.optimizer.learning_rate={opt.learning_rate!r}; expected a positive number")
    if opt.warmup_steps < 0:
        raise ValueError(f"config.optimizer.warmup_steps={opt.warmup_steps!r}; expected >= 0")
    schedule = SCHEDULES.get(opt.schedule)(opt, num_steps)
    adamw = optax.adamw(
        schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay, mask=_decay_mask
    )
    parts = [optax.clip_by_global_norm(opt.clip_norm)] if opt.clip_norm > 0 else []
    return optax.chain(*parts, adamw), schedule
