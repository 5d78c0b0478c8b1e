"""Shared helpers for the model tests.

Compiling, not running, dominates these tests on CPU, so they compile with LLVM's cheap settings
(per executable: nothing global changes, and the library code is untouched).
"""

import jax
import pytest

FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def compile_fast(fn, *args, **kwargs):
    """``fn`` (a function or an already-jitted one) compiled for ``args``; call it with the same
    array arguments (static keyword arguments are bound at compile time)."""
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    return jitted.lower(*args, **kwargs).compile(compiler_options=FAST_COMPILE)


@pytest.fixture(scope="session")
def fast():
    return compile_fast
