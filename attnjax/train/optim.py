"""The optimizer: AdamW with warmup, a decay schedule chosen by name, and gradient clipping."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

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


class ParameterEmaState(NamedTuple):
    """``count`` int32 scalar, the updates seen; ``ema`` the moving average, shaped as the params."""

    count: jax.Array
    ema: Any


def parameter_ema(decay: float) -> optax.GradientTransformation:
    """Keeps an exponential moving average of the parameters after each update (Polyak averaging,
    as TensorFlow's ExponentialMovingAverage with ``num_updates``): the decay of update ``t`` is
    ``min(decay, (1 + t) / (10 + t))``, so the first updates are not averaged with the
    initialisation. Passes the updates through unchanged: training follows the raw parameters,
    evaluation reads the average (:func:`attnjax.train.state.evaluation_params`). Living in the
    optimizer state, the average is checkpointed and restored with it, so a resumed run averages
    exactly as an uninterrupted one."""

    def init(params):
        return ParameterEmaState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.asarray, params))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("parameter_ema needs the parameters: call tx.update(grads, opt_state, params)")
        count = state.count
        rate = jnp.minimum(decay, (1.0 + count) / (10.0 + count))
        new_params = optax.apply_updates(params, updates)
        ema = jax.tree.map(lambda e, p: (rate * e + (1.0 - rate) * p).astype(e.dtype), state.ema, new_params)
        return updates, ParameterEmaState(count + 1, ema)

    return optax.GradientTransformation(init, update)


def make_optimizer(opt: Any, num_steps: int) -> tuple[optax.GradientTransformation, Schedule]:
    """``(tx, schedule)`` from ``config.optimizer``; ``clip_norm <= 0`` disables clipping;
    ``ema_decay`` in (0, 1) also keeps the parameters' moving average, which evaluation reads."""
    if opt.learning_rate <= 0:
        raise ValueError(f"config.optimizer.learning_rate={opt.learning_rate!r}; expected a positive number")
    if opt.warmup_steps < 0:
        raise ValueError(f"config.optimizer.warmup_steps={opt.warmup_steps!r}; expected >= 0")
    schedule = SCHEDULES.get(opt.schedule)(opt, num_steps)
    adamw = optax.adamw(
        schedule, b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay, mask=_decay_mask
    )
    ema_decay = opt.get("ema_decay", 0.0)
    if isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) or not 0.0 <= ema_decay < 1.0:
        raise ValueError(
            f"config.optimizer.ema_decay={ema_decay!r}; expected 0 (no averaging) or a decay in (0, 1), e.g. 0.999"
        )
    parts = [optax.clip_by_global_norm(opt.clip_norm)] if opt.clip_norm > 0 else []
    ema = [parameter_ema(float(ema_decay))] if ema_decay > 0 else []
    return optax.chain(*parts, adamw, *ema), schedule
