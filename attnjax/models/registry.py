"""The model registry and ``build_model``: a config in, a validated Flax module out.

Each model registers a :class:`ModelSpec`: the module class, a ``check`` for the fields only it
reads, ``example_inputs`` for ``init`` and ``without_attention``, what a model of it with
``attention="none"`` changes besides (:func:`with_attention` applies it). Names are resolved here, once; the modules below get
objects (a :class:`attnjax.ops.Score`, a cell class), never an if/elif over variant names.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from attnjax.models.config import NO_ATTENTION, ModelConfig, check_choice, check_common, to_config
from attnjax.registry import Registry

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build, check and initialise one registered model."""

    module: Callable[..., nn.Module]  # module(config=ModelConfig) -> nn.Module
    check: Callable[[ModelConfig], None]
    example_inputs: Callable[[ModelConfig, int, int], tuple[Array, ...]]
    without_attention: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # fields "none" also sets
    # Bumped when the same config computes something else (new parameter layout or numerics), so
    # recorded runs of the old code no longer count as done (part of the run key when > 0).
    revision: int = 0


MODELS: Registry[ModelSpec] = Registry("model")


def validate(config: Any) -> ModelConfig:
    """The config as a :class:`ModelConfig`; ValueError naming the first bad field otherwise."""
    config = to_config(config)
    check_choice("model", config.model, MODELS.names())
    check_common(config)
    MODELS.get(config.model).check(config)
    return config


def with_attention(fields: Mapping[str, Any], attention: str, num_heads: int) -> dict:
    """The model ``fields`` (a config's ``model`` group) changed to ``attention`` with ``num_heads``
    heads; for ``attention="none"`` also the model's ``without_attention`` fields (e.g. the
    classifier pools by mean), so the result passes :func:`validate`."""
    changes = {"attention": attention, "num_heads": num_heads}
    if attention == NO_ATTENTION:
        changes.update(MODELS.get(fields["model"]).without_attention)
    return changes


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
