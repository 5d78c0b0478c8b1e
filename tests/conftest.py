"""Suite-wide test settings and fixtures."""

import os

# Compiling, not running, dominates most of this suite on a CPU, so the whole session (and the
# processes it starts, which inherit the environment) compiles with LLVM's cheap settings: on a
# 2-core CPU the suite took 9 min 48 s with them and 13 min 44 s without (README "Test"). They change
# how fast the code runs, not what it computes (every test passes either way);
# ATTNJAX_TEST_FULL_OPT=1 runs the suite with XLA's default optimisation. Set before jax starts
# its backend, which reads XLA_FLAGS once.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
FAST_COMPILE_FLAGS = " ".join(f"--{name}={str(value).lower()}" for name, value in FAST_COMPILE.items())
if not os.environ.get("ATTNJAX_TEST_FULL_OPT"):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE_FLAGS}".strip()

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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


# The same settings per executable (FAST_COMPILE), for the tests that compile explicitly: they hold
# under ATTNJAX_TEST_FULL_OPT too.
def compile_fast(fn, *args, **kwargs):
    """``fn`` (a function or an already-jitted one) compiled for ``args``; call it with the same
    array arguments (static keyword arguments are bound at compile time)."""
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    return jitted.lower(*args, **kwargs).compile(compiler_options=FAST_COMPILE)


@pytest.fixture(scope="session")
def fast():
    return compile_fast
