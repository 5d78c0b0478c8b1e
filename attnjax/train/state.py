"""``TrainState``: everything a training step changes, and so everything a checkpoint must hold."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax

from attnjax.train.optim import ParameterEmaState


@flax.struct.dataclass
class TrainState:
    """``step`` int32 scalar; ``params``; ``opt_state``; ``rng`` the run's base key (raw uint32 [2]).

    The dropout key of step ``s`` is ``fold_in(rng, s)``, so a restored state draws exactly the
    dropout masks the interrupted run would have drawn.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    rng: jax.Array

    @classmethod
    def create(cls, params: Any, tx: optax.GradientTransformation, rng: jax.Array) -> "TrainState":
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), rng=rng)


def initial_state(model: Any, tx: optax.GradientTransformation, inputs: tuple, seed: int) -> TrainState:
    """A run's state before its first step: parameters of ``model.init`` on ``inputs`` and the
    dropout key, both from ``seed``. Traceable: ``jax.jit`` it to allocate the state (the loop),
    ``jax.eval_shape`` it for the shapes a checkpoint restores into (``load_run``)."""
    init_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(seed))
    params = model.init(init_rng, *inputs)["params"]
    return TrainState.create(params, tx, dropout_rng)


def evaluation_params(state: TrainState) -> Any:
    """The parameters evaluation, the best checkpoint and the test read: the moving average when
    the optimizer keeps one (``config.optimizer.ema_decay > 0``), else the trained parameters."""
    found = [
        leaf for leaf in jax.tree.leaves(state.opt_state, is_leaf=lambda x: isinstance(x, ParameterEmaState))
        if isinstance(leaf, ParameterEmaState)
    ]
    return found[0].ema if found else state.params
