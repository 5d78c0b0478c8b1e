"""Data parallelism over a device mesh: the batch is sharded, parameters are replicated.

This is what ``pmap`` used to do, written with ``jax.jit`` and ``NamedSharding`` so the same code
runs on one CPU, one GPU, a TPU v2-8 and a multi-host pod: every process feeds its share of the
global batch and ``jax.make_array_from_process_local_data`` assembles the global array.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
    """A 1-d mesh named ``data`` over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over the ``data`` axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def per_process_batch_size(global_batch_size: int, mesh: Mesh, what: str) -> int:
    """The rows each process feeds; ValueError unless the global batch splits over devices and processes."""
    devices = mesh.devices.size
    if global_batch_size <= 0 or global_batch_size % devices:
        raise ValueError(
            f"{what}={global_batch_size} must be a positive multiple of the device count ({devices} devices); "
            f"the global batch is split evenly across devices"
        )
    return global_batch_size // jax.process_count()


def to_global(batch: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """This process's rows of every array -> global arrays sharded over the batch axis."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in batch.items()}


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places every leaf of ``tree`` on all devices."""
    return jax.device_put(tree, replicated(mesh))
