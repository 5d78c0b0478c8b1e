"""Whether jax sees the accelerator the runtime was meant to have (the notebooks' setup check).

A Colab or Cloud TPU/GPU runtime whose jax was replaced by a ``pip install`` may lose its TPU or
CUDA plugin; jax then falls back to the CPU with no more than a log warning, and a notebook
trains for hours on the CPU. ``check_accelerator`` looks for the markers such a runtime leaves
(environment variables, device files, ``nvidia-smi``) and stops with what to run instead.

Importing this module does nothing; the markers are read only when a function is called, and
each source of them can be replaced (tests fake a TPU or GPU runtime on a CPU-only machine).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

# Set to 1 to continue on the CPU although the runtime has an accelerator jax does not see.
ALLOW_CPU_VARIABLE = "ATTNJAX_ALLOW_CPU"
# Colab's TPU node runtimes (v2-8) and Cloud TPU VMs set these.
TPU_ENVIRONMENT_MARKERS = ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE")
# A TPU VM's chips (v4 and older generations, and Colab's TPU VM runtimes).
TPU_DEVICE_FILES = ("/dev/accel0",)
INSTALL = {
    "tpu": 'pip install -U "jax[tpu]"',
    "gpu": 'pip install -U "jax[cuda12]"',
}

# (argv) -> (exit status, stdout); raises OSError when the program is missing.
Runner = Callable[[Sequence[str]], "tuple[int, str]"]


class AcceleratorNotSeenError(RuntimeError):
    """The runtime has a TPU or GPU, but jax sees only the CPU."""


@dataclass(frozen=True)
class ExpectedAccelerator:
    platform: str  # "tpu" or "gpu", as jax names the platform
    evidence: str  # what says the runtime has it, e.g. "COLAB_TPU_ADDR is set"

    @property
    def install(self) -> str:
        return INSTALL[self.platform]


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    completed = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    return completed.returncode, completed.stdout


def expected_accelerator(
    environ: Optional[Mapping[str, str]] = None,
    path_exists: Callable[[str], bool] = os.path.exists,
    run: Runner = run_command,
) -> Optional[ExpectedAccelerator]:
    """The accelerator the runtime's markers announce (a TPU before a GPU), or None."""
    environ = os.environ if environ is None else environ
    tpu = [f"{name} is set" for name in TPU_ENVIRONMENT_MARKERS if environ.get(name)]
    tpu += [f"{path} exists" for path in TPU_DEVICE_FILES if path_exists(path)]
    if tpu:
        return ExpectedAccelerator("tpu", "; ".join(tpu))
    try:
        status, listing = run(["nvidia-smi", "-L"])
    except (OSError, subprocess.SubprocessError):  # no driver installed, or it hangs
        return None
    gpus = [line.strip() for line in listing.splitlines() if line.strip().startswith("GPU ")]
    if status == 0 and gpus:
        more = f" and {len(gpus) - 1} more" if len(gpus) > 1 else ""
        return ExpectedAccelerator("gpu", f"nvidia-smi lists {gpus[0]}{more}")
    return None


def check_accelerator(
    platforms: Optional[Sequence[str]] = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    path_exists: Callable[[str], bool] = os.path.exists,
    run: Runner = run_command,
) -> str:
    """One line on the accelerator jax uses; raises AcceleratorNotSeenError when the runtime has a
    TPU or GPU but jax sees only the CPU.

    ``platforms``: the platform of each device jax sees (default: ``jax.devices()``'s).
    """
    if platforms is None:
        import jax

        platforms = [device.platform for device in jax.devices()]
    platforms = sorted(set(platforms))
    if platforms != ["cpu"]:
        return f"accelerator check: jax uses {', '.join(p.upper() for p in platforms)}"
    expected = expected_accelerator(environ, path_exists, run)
    if expected is None:
        return "accelerator check: no TPU or GPU in this runtime; jax uses the CPU"
    environ = os.environ if environ is None else environ
    what = (
        f"this runtime has a {expected.platform.upper()} ({expected.evidence}), but jax "
        f"{_version('jax')} (jaxlib {_version('jaxlib')}) sees only the CPU"
    )
    if environ.get(ALLOW_CPU_VARIABLE) == "1":
        return f"accelerator check: {what}; continuing on the CPU because {ALLOW_CPU_VARIABLE}=1"
    raise AcceleratorNotSeenError(
        f"Accelerator check: {what}, so everything here would run on the CPU, many times slower. Most likely an install "
        f"replaced the runtime's jax by one that does not match its {expected.platform.upper()} "
        f"plugin. Run `{expected.install}` in a cell, restart the session (Colab: Runtime -> Restart "
        f"session) and run the notebook again. To use the CPU on purpose, pick a CPU runtime or set "
        f"the environment variable {ALLOW_CPU_VARIABLE}=1."
    )


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
