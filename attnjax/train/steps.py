"""The jitted training step: gradients summed over microbatches, one optimizer update."""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from attnjax.train.state import TrainState
from attnjax.train.tasks import Task


def _microbatches(batch: dict, count: int) -> dict:
    """``[B, ...]`` -> ``[count, B / count, ...]`` with microbatch ``j`` = rows ``j, j + count, ...``.

    Strided rather than contiguous rows, so each microbatch keeps rows on every device of the
    batch-sharded mesh instead of living on a few of them.
    """

    def split(x):
        if x.shape[0] % count:
            raise ValueError(
                f"batch of {x.shape[0]} rows does not split into config.train.accumulation_steps={count} microbatches"
            )
        x = x.reshape((x.shape[0] // count, count) + x.shape[1:])
        return jnp.swapaxes(x, 0, 1)

    return jax.tree.map(split, batch)


def make_train_step(
    task: Task, model: nn.Module, tx: optax.GradientTransformation, accumulation_steps: int = 1
) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """``step(state, batch) -> (state, metrics)``; metrics are global means over the batch.

    The loss is summed over real examples (or tokens) and divided by their global count once, so
    1 or 8 devices and 1 or k microbatches give the same update up to float rounding.
    """
    if accumulation_steps < 1:
        raise ValueError(f"config.train.accumulation_steps={accumulation_steps}; expected >= 1")

    def loss_and_grads(params, batch, rng, step):
        def loss_fn(p):
            return task.loss(model, p, batch, rng, step)

        return jax.value_and_grad(loss_fn, has_aux=True)(params)

    def step_fn(state: TrainState, batch: dict) -> tuple[TrainState, dict]:
        rng = jax.random.fold_in(state.rng, state.step)
        if accumulation_steps == 1:
            (loss_sum, sums), grads = loss_and_grads(state.params, batch, rng, state.step)
        else:
            micro = _microbatches(batch, accumulation_steps)

            def body(carry, xs):
                index, mb = xs
                (loss_sum, sums), grads = loss_and_grads(state.params, mb, jax.random.fold_in(rng, index), state.step)
                return jax.tree.map(jnp.add, carry, (loss_sum, sums, grads)), None

            shapes = jax.eval_shape(
                lambda: loss_and_grads(state.params, jax.tree.map(lambda x: x[0], micro), rng, state.step)
            )
            (loss_shape, sums_shape), grads_shape = shapes
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (loss_shape, sums_shape, grads_shape))
            (loss_sum, sums, grads), _ = jax.lax.scan(body, zeros, (jnp.arange(accumulation_steps), micro))
        weight = jnp.maximum(sums["weight"], 1.0)
        grads = jax.tree.map(lambda g: g / weight, grads)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {name: value / weight for name, value in sums.items() if name != "weight"}
        metrics.update(loss=loss_sum / weight, grad_norm=optax.tree.norm(grads), weight=sums["weight"])
        new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
        return new_state, metrics

    return step_fn
