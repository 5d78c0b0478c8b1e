"""attnjax's JAX-stack requirements are lower bounds only, so installing it on Colab keeps the
runtime's newer jax (and its TPU or CUDA plugin), and the suite runs on those lower bounds."""

from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
JAX_STACK = ("jax", "flax", "optax", "orbax-checkpoint")


def _requirements() -> dict[str, Requirement]:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return {r.name: r for r in map(Requirement, dependencies)}


@pytest.mark.parametrize("name", JAX_STACK)
def test_jax_stack_has_a_lower_bound_and_no_upper_one(name):
    specifiers = list(_requirements()[name].specifier)
    assert [s.operator for s in specifiers] == [">="], (
        f"{name}'s requirement is {_requirements()[name]}; expected one lower bound ({name}>=X), the "
        "oldest version the suite passes on, and no upper pin (on Colab it would replace the runtime's jax)"
    )


@pytest.mark.parametrize("name", JAX_STACK)
def test_installed_version_is_supported_and_floors_are_what_runs(name):
    floor = Version(next(iter(_requirements()[name].specifier)).version)
    installed = Version(metadata.version(name))
    assert installed >= floor, f"{name} {installed} is installed, but attnjax requires {name}>={floor}"
    if installed > floor:
        pytest.skip(
            f"{name} {installed} is newer than the floor {floor}: the floor itself is tested where the "
            f"package index serves nothing newer (CI), or with `pip install -e '.[dev]' {name}=={floor}`"
        )
