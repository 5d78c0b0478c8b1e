"""The model registry and ``build_model``: a config in, a validated Flax module out.

Each model registers a :class:`ModelSpec`: the module class, a ``check`` for the fields only it
reads, and ``example_inputs`` for ``init``. Names are resolved here, once; the modules below get
objects (a :class:`attnjax.ops.Score`, a cell class), never an if/elif over variant names.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.models.config import ModelConfig, check_choice, check_common, to_config
from attnjax.registry import Registry

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build, check and initialise one registered model."""

    module: Callable[..., nn.Module]  # module(config=ModelConfig) -> nn.Module
    check: Callable[[ModelConfig], None]
    example_inputs: Callable[[ModelConfig, int, int], tuple[Array, ...]]


MODELS: Registry[ModelSpec] = Registry("model")


def validate(config: Any) -> ModelConfig:
    """The config as a :class:`ModelConfig`; ValueError naming the first bad field otherwise."""
    config = to_config(config)
    check_choice("model", config.model, MODELS.names())
    check_common(config)
    MODELS.get(config.model).check(config)
    return config


def build_model(config: Any) -> nn.Module:
    """The registered model ``config.model``, built from a validated config."""
    config = validate(config)
    return MODELS.get(config.model).module(config=config)


def example_inputs(config: Any, batch: int = 2, length: int = 8) -> tuple[Array, ...]:
    """Dummy positional inputs for ``model.init`` (all ones: real tokens, no padding)."""
    config = validate(config)
    return MODELS.get(config.model).example_inputs(config, batch, length)


def init_model(config: Any, rng: Array, batch: int = 2, length: int = 8) -> tuple[nn.Module, Any]:
    """``(model, params)`` for ``config``."""
    model = build_model(config)
    # Jitted: an eager init dispatches (and compiles) every primitive one at a time.
    variables = jax.jit(model.init)(rng, *example_inputs(model.config, batch, length))
    return model, variables["params"]


def token_inputs(num: int) -> Callable[[ModelConfig, int, int], tuple[Array, ...]]:
    """``example_inputs`` for a model taking ``num`` ``[batch, length]`` int32 token arrays."""

    def make(config: ModelConfig, batch: int, length: int) -> tuple[Array, ...]:
        del config
        return tuple(jnp.ones((batch, length), jnp.int32) for _ in range(num))

    return make
