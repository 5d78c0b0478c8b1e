"""compare.py's worker processes stop when the grid process is killed (they would train on unseen)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A stand-in for the grid process: a spawn pool with compare.py's initializer, one worker busy in a
# long task; it prints the worker's pid and waits to be killed.
PARENT = textwrap.dedent(
    """
    import concurrent.futures, multiprocessing, os, time
    from experiments.compare import exit_with_parent

    def busy(seconds):
        print(os.getpid(), flush=True)
        time.sleep(seconds)

    if __name__ == "__main__":
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(), 0.1)
        ) as pool:
            pool.submit(busy, 120)
            time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its new parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform != "linux", reason="reads /proc (Linux)")
def test_workers_exit_when_the_grid_process_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    worker = None
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 20
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), f"worker {worker} still running after its parent was killed"
    finally:
        parent.kill()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)  # a failed run of this test leaves no sleeping worker behind
