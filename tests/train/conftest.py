"""Training tests compile the same tiny programs many times: share them via JAX's persistent cache."""

import os

import jax
import pytest


@pytest.fixture(scope="session", autouse=True)
def compilation_cache(tmp_path_factory):
    # The parent of the per-worker base temp dir is shared by all pytest-xdist workers of a session.
    directory = tmp_path_factory.getbasetemp().parent / "jax_compilation_cache"
    directory.mkdir(exist_ok=True)
    previous = {
        name: getattr(jax.config, name)
        for name in ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                     "jax_persistent_cache_min_entry_size_bytes")
    }
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(directory)  # subprocesses started by the tests
    yield directory
    for name, value in previous.items():
        jax.config.update(name, value)
