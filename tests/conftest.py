"""Suite-wide test settings and fixtures."""

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

# Property tests compile JAX functions, so examples are slow and their timing is noisy; CI runs a
# fixed, derandomized set so a red build is reproducible.
settings.register_profile(
    "attnjax",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("attnjax")


# Compiling, not running, dominates the nn and model tests on CPU, so they compile with LLVM's cheap
# settings (per executable: nothing global changes, and the library code is untouched).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def compile_fast(fn, *args, **kwargs):
    """``fn`` (a function or an already-jitted one) compiled for ``args``; call it with the same
    array arguments (static keyword arguments are bound at compile time)."""
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    return jitted.lower(*args, **kwargs).compile(compiler_options=FAST_COMPILE)


@pytest.fixture(scope="session")
def fast():
    return compile_fast
