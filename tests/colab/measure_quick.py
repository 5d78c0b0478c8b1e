"""Wall time and the kernel's peak memory of each colab/ notebook run with QUICK = True.

Runs them as tests/colab/test_notebooks.py does (same kernel, environment and QUICK injection),
plus a last cell that reads the kernel's peak resident memory (VmHWM; Linux only). The README's
Colab table comes from it:

    PYTHONPATH=$PWD python tests/colab/measure_quick.py [NAME ...]   # NAME: part of a notebook's file name
"""

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

HERE = Path(__file__).resolve().parent
PEAK_RSS_CELL = "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))"


def _notebook_tests():
    spec = importlib.util.spec_from_file_location("test_notebooks", HERE / "test_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    tests = _notebook_tests()
    kernels = Path(tempfile.mkdtemp())
    ipykernel.kernelspec.write_kernel_spec(str(kernels / tests.KERNEL_NAME))  # argv: this interpreter

    class ThisInterpreterKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[str(kernels)])

    wanted = sys.argv[1:]
    for path in [p for p in tests.NOTEBOOKS if not wanted or any(w in p.name for w in wanted)]:
        nb, _ = tests._quick_copy(tests._read(path))
        nb.cells.append(nbformat.v4.new_code_cell(PEAK_RSS_CELL))
        client = NotebookClient(
            nb, kernel_name=tests.KERNEL_NAME, kernel_manager_class=ThisInterpreterKernelManager,
            timeout=1200, startup_timeout=120, resources={"metadata": {"path": tempfile.mkdtemp()}},
        )
        start = time.perf_counter()
        client.execute(env=tests._kernel_env())
        wall = time.perf_counter() - start
        peak_kib = int("".join(o.get("text", "") for o in nb.cells[-1].outputs).split()[0])
        print(f"{path.name}: {wall:.0f} s, kernel peak RSS {peak_kib / 1024:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
