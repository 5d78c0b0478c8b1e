"""The notebooks' accelerator check (``attnjax.runtime``) with faked TPU and GPU runtime markers."""

import subprocess
import sys
from pathlib import Path

import pytest

from attnjax.runtime import AcceleratorNotSeenError, check_accelerator, expected_accelerator

REPO_ROOT = Path(__file__).resolve().parents[2]
T4_LISTING = "GPU 0: Tesla T4 (UUID: GPU-0b1e5c6d-0000-0000-0000-000000000000)\n"


def no_files(path):
    return False


def no_nvidia_smi(argv):
    raise FileNotFoundError(2, "No such file or directory", argv[0])


def nvidia_smi(listing, status=0):
    calls = []

    def run(argv):
        calls.append(list(argv))
        return status, listing

    run.calls = calls
    return run


def markers(environ=None, files=(), run=no_nvidia_smi):
    return {"environ": environ or {}, "path_exists": lambda path: path in files, "run": run}


TPU_RUNTIMES = {
    "colab_tpu_node": markers({"COLAB_TPU_ADDR": "10.0.0.2:8470"}),
    "tpu_vm_name": markers({"TPU_NAME": "local"}),
    "tpu_vm_type": markers({"TPU_ACCELERATOR_TYPE": "v5litepod-8"}),
    "tpu_vm_device_file": markers(files=("/dev/accel0",)),
}


@pytest.mark.parametrize("runtime", sorted(TPU_RUNTIMES))
def test_tpu_runtime_with_cpu_only_jax_stops_and_says_what_to_run(runtime):
    with pytest.raises(AcceleratorNotSeenError) as info:
        check_accelerator(["cpu"], **TPU_RUNTIMES[runtime])
    message = str(info.value)
    assert "this runtime has a TPU (" in message and "sees only the CPU" in message
    assert 'pip install -U "jax[tpu]"' in message and "Restart session" in message
    assert "cuda" not in message


def test_tpu_evidence_names_every_marker():
    found = expected_accelerator({"COLAB_TPU_ADDR": "10.0.0.2:8470"}, lambda p: p == "/dev/accel0", no_nvidia_smi)
    assert (found.platform, found.evidence) == ("tpu", "COLAB_TPU_ADDR is set; /dev/accel0 exists")


def test_gpu_runtime_with_cpu_only_jax_stops_and_says_what_to_run():
    with pytest.raises(AcceleratorNotSeenError) as info:
        check_accelerator(["cpu"], **markers(run=nvidia_smi(T4_LISTING)))
    message = str(info.value)
    assert "this runtime has a GPU (nvidia-smi lists GPU 0: Tesla T4" in message
    assert 'pip install -U "jax[cuda12]"' in message and "jax[tpu]" not in message


def test_several_gpus_are_counted():
    found = expected_accelerator({}, no_files, nvidia_smi("GPU 0: NVIDIA L4 (UUID: a)\nGPU 1: NVIDIA L4 (UUID: b)\n"))
    assert found.evidence == "nvidia-smi lists GPU 0: NVIDIA L4 (UUID: a) and 1 more"


@pytest.mark.parametrize(
    "run",
    [
        no_nvidia_smi,  # no driver
        nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n", status=9),
        nvidia_smi("No devices found.\n", status=6),
        nvidia_smi("", status=0),
    ],
    ids=["missing", "driver_error", "no_devices", "empty"],
)
def test_nvidia_smi_without_a_gpu_is_no_marker(run):
    assert expected_accelerator({}, no_files, run) is None
    assert check_accelerator(["cpu"], **markers(run=run)).endswith("jax uses the CPU")


def test_a_hanging_nvidia_smi_is_no_marker():
    def hangs(argv):
        raise subprocess.TimeoutExpired(argv, 30)

    assert expected_accelerator({}, no_files, hangs) is None


def test_no_markers_runs_on_the_cpu_as_before():
    assert check_accelerator(["cpu"], **markers()) == (
        "accelerator check: no TPU or GPU in this runtime; jax uses the CPU"
    )
    assert check_accelerator(["cpu"], **markers({"TPU_NAME": ""})).endswith("jax uses the CPU")


def test_accelerator_seen_passes_without_reading_markers():
    run = nvidia_smi(T4_LISTING)
    assert check_accelerator(["gpu"], **markers(run=run)) == "accelerator check: jax uses GPU"
    assert check_accelerator(["tpu", "tpu"], **TPU_RUNTIMES["colab_tpu_node"]) == "accelerator check: jax uses TPU"
    assert run.calls == []


def test_allow_cpu_continues_and_says_so():
    environ = {"COLAB_TPU_ADDR": "10.0.0.2:8470", "ATTNJAX_ALLOW_CPU": "1"}
    line = check_accelerator(["cpu"], **markers(environ))
    assert "has a TPU" in line and "continuing on the CPU because ATTNJAX_ALLOW_CPU=1" in line


def test_defaults_read_this_machines_jax():
    # This machine's markers are replaced, jax's devices are real: the suite runs a CPU-only jax.
    assert check_accelerator(**markers()).startswith("accelerator check: ")


def test_importing_runs_nothing():
    """Importing the module neither imports jax nor runs a program (the notebooks import it early)."""
    code = (
        "import subprocess, sys\n"
        "subprocess.run = None\n"
        "import attnjax.runtime\n"
        "assert 'jax' not in sys.modules, 'importing attnjax.runtime imported jax'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
