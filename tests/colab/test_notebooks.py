"""Every notebook in colab/ is stored clean and runs top to bottom, so none of them rots.

Each ``colab/*.ipynb`` is checked as stored (no outputs, a ``parameters`` cell defining ``QUICK``,
the Colab install and version cells first) and executed with nbclient after ``QUICK = True`` is
appended to its parameters cell in memory (the file is never written). The kernel is this
interpreter (a kernelspec written to a temporary directory, checked from inside the kernel), with
this checkout first on ``PYTHONPATH``, so a worktree or CI's fresh ``.venv`` tests its own code.
"""

import ast
import copy
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError
from traitlets import default

from attnjax.runtime import ALLOW_CPU_VARIABLE, expected_accelerator

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO_ROOT / "colab").glob("*.ipynb"))
KERNEL_NAME = "python3"
CELL_TIMEOUT_S = 300
# How many code cells from the top the parameters, install and versions cells must sit in.
SETUP_CELLS = 4

by_name = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])


def _read(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _code_cells(nb) -> list[tuple[int, nbformat.NotebookNode]]:
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def _assigns(source: str, name: str) -> bool:
    """True when a cell's ``source`` (magics allowed) assigns ``name`` at top level."""
    for node in ast.parse(TransformerManager().transform_cell(source)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            return True
    return False


def _parameters_index(nb) -> int:
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found cells {tagged}"
    cell = nb.cells[tagged[0]]
    assert cell.cell_type == "code", f"the 'parameters' cell {tagged[0]} is not a code cell"
    assert _assigns(cell.source, "QUICK"), (
        f"the 'parameters' cell {tagged[0]} does not assign QUICK:\n{cell.source}"
    )
    return tagged[0]


def _is_install_cell(source: str) -> bool:
    return (
        "google.colab" in source
        and "sys.modules" in source
        and _assigns(source, "ATTNJAX_REPO")
        and "pip" in source
        and "attnjax @ git+" in source
    )


def _is_versions_cell(source: str) -> bool:
    return (
        all(f"{m}.__version__" in source for m in ("jax", "jaxlib", "flax", "attnjax"))
        and ("python_version" in source or "sys.version" in source)
        and "jax.devices()" in source
        and ("default_backend" in source or ".platform" in source)
        # attnjax.runtime's stop when the runtime has a TPU or GPU that jax does not see.
        and "check_accelerator()" in source
    )


@by_name
def test_stored_without_outputs(path):
    nb = _read(path)
    dirty = [i for i, cell in _code_cells(nb) if cell.outputs or cell.execution_count is not None]
    assert not dirty, (
        f"{path.name}: code cells {dirty} are stored with outputs or execution counts; clear all "
        "outputs before saving (Jupyter: Edit > Clear Outputs of All Cells; Colab: Edit > Clear "
        "all outputs, or Edit > Notebook settings > omit code cell output when saving)"
    )


@by_name
def test_kernelspec_is_python3(path):
    nb = _read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == KERNEL_NAME, (
        f"{path.name}: metadata.kernelspec is {nb.metadata.get('kernelspec')}, expected the name "
        f"{KERNEL_NAME!r}"
    )


@by_name
def test_parameters_install_and_versions_cells_come_first(path):
    nb = _read(path)
    params = _parameters_index(nb)
    code = _code_cells(nb)
    first = [i for i, _ in code[:SETUP_CELLS]]
    assert first[0] == params, f"{path.name}: the first code cell must be the 'parameters' cell"
    install = next((i for i, cell in code[:SETUP_CELLS] if _is_install_cell(cell.source)), None)
    versions = next((i for i, cell in code[:SETUP_CELLS] if _is_versions_cell(cell.source)), None)
    assert install is not None, (
        f"{path.name}: none of the first {SETUP_CELLS} code cells (cells {first}) is the install "
        "cell: ATTNJAX_REPO = ... and, only when '\"google.colab\" in sys.modules', "
        "pip install \"attnjax @ git+{ATTNJAX_REPO}\""
    )
    assert versions is not None, (
        f"{path.name}: none of the first {SETUP_CELLS} code cells (cells {first}) prints the "
        "python, jax, jaxlib, flax and attnjax versions, jax.devices() and the backend, and "
        "calls attnjax.runtime's check_accelerator()"
    )
    assert params < install < versions, (
        f"{path.name}: expected the cells in the order parameters < install < versions, got "
        f"{params}, {install}, {versions}"
    )
    imports_attnjax = re.compile(r"\b(import|from) attnjax")
    early = [i for i, cell in code if i < install and imports_attnjax.search(cell.source)]
    assert not early, f"{path.name}: cells {early} import attnjax before the install cell"


# --- execution -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kernel_manager_class(tmp_path_factory):
    """A kernel manager that only knows a ``python3`` kernelspec running this interpreter.

    The kernelspec a plain ``kernel_name="python3"`` finds may be a user's or the system's, with
    another Python; this one is written by ipykernel with ``sys.executable``.
    """
    import ipykernel.kernelspec

    kernels = tmp_path_factory.mktemp("kernels")
    ipykernel.kernelspec.write_kernel_spec(str(kernels / KERNEL_NAME))  # argv: sys.executable
    kernel_dirs = [str(kernels)]

    class ThisInterpreterKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=kernel_dirs)

    return ThisInterpreterKernelManager


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    # XLA_FLAGS comes with os.environ: tests/conftest.py's cheap compile settings, as in the suite.
    if expected_accelerator() is not None:
        # This machine has a TPU or GPU that the suite's jax may not use (CI installs the CPU
        # jax): the notebooks' stop for that case is tested in test_runtime.py, not here.
        env.setdefault(ALLOW_CPU_VARIABLE, "1")
    return env


# Runs first: the kernel is this interpreter and imports this checkout's attnjax.
KERNEL_CHECK = f"""
import importlib.util as _util, os as _os, sys as _sys
assert _sys.executable == {sys.executable!r}, f"kernel runs {{_sys.executable}}"
assert _sys.prefix == {sys.prefix!r}, f"kernel's sys.prefix is {{_sys.prefix}}, not {sys.prefix!r}"
_origin = _os.path.realpath(_util.find_spec("attnjax").origin)
assert _origin.startswith({os.path.realpath(REPO_ROOT) + os.sep!r}), f"attnjax from {{_origin}}"
del _util, _os, _sys, _origin
""".strip()
QUICK_CHECK = "assert QUICK is True, f'QUICK is {QUICK!r}: the injected QUICK = True was undone'"
INJECTED = "QUICK = True  # injected by tests/colab/test_notebooks.py"


def _quick_copy(nb) -> tuple[nbformat.NotebookNode, list]:
    """The notebook with QUICK = True appended to its parameters cell and the two checks added,
    and for each cell of it the index of the stored cell it came from (None: added by the test)."""
    params = _parameters_index(nb)
    nb = copy.deepcopy(nb)
    nb.cells[params].source = nb.cells[params].source.rstrip("\n") + "\n" + INJECTED
    origin = list(range(len(nb.cells)))
    nb.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CHECK))
    nb.cells.append(nbformat.v4.new_code_cell(QUICK_CHECK))
    return nb, [None] + origin + [None]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# 03 trains the built-in grid (about 90 s on a 2-core CPU): slow; 01 and 02 run in every suite.
@pytest.mark.notebook
@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=(pytest.mark.slow,) if p.name.startswith("03_") else ()) for p in NOTEBOOKS],
    ids=[p.name for p in NOTEBOOKS],
)
def test_runs_top_to_bottom_with_quick(path, tmp_path, kernel_manager_class):
    nb, origin = _quick_copy(_read(path))
    current = {"index": None}

    def on_cell_execute(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        kernel_manager_class=kernel_manager_class,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
        on_cell_execute=on_cell_execute,
    )
    start = time.perf_counter()
    try:
        client.execute(env=_kernel_env())
        return
    except (CellControlSignal, CellTimeoutError, DeadKernelError) as error:
        failure = error
    # Reported outside the except block, so pytest shows this message, not nbclient's chain.
    index = current["index"]
    stored = origin[index] if index is not None else None
    where = f"cell {stored}" if stored is not None else "a cell added by the test"
    cell = nb.cells[index] if index is not None else nbformat.v4.new_code_cell("?")
    outputs = cell.get("outputs", [])
    tracebacks = ["\n".join(o.traceback) for o in outputs if o.output_type == "error"]
    pytest.fail(
        f"{path.name}: {where} failed after {time.perf_counter() - start:.0f} s "
        f"({type(failure).__name__}).\n--- cell source ---\n{cell.source}\n--- error ---\n"
        + _ANSI.sub("", "\n".join(tracebacks) or str(failure)),
        pytrace=False,
    )
