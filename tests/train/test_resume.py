"""Exact resume: SIGKILL mid-run, corrupted checkpoints, non-finite losses."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from attnjax.train import TASKS, TrainingDivergedError, read_log, train_and_evaluate
from attnjax.train.classification import classification_loss
from train_testing import tiny_classification

REPO = Path(__file__).resolve().parents[2]


def final_params(workdir: Path, step: int):
    return ocp.StandardCheckpointer().restore(workdir / "checkpoints" / "latest" / str(step) / "state")["params"]


def assert_bitwise_equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def killable_config():
    # Long enough that the kill lands mid-run; dropout on, so resumed rngs matter.
    return tiny_classification(
        steps=160, train__checkpoint_every=20, train__eval_every=40, train__log_every=10
    )


@pytest.mark.slow
def test_sigkill_and_resume_gives_bit_identical_parameters_and_metrics(tmp_path):
    config = killable_config()
    reference = train_and_evaluate(config, tmp_path / "reference")

    workdir = tmp_path / "killed"
    script = (
        "import json, sys\n"
        "from attnjax.train import train_and_evaluate\n"
        "train_and_evaluate(json.loads(sys.argv[1]), sys.argv[2])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", script, json.dumps(config.to_dict()), str(workdir)], env=env)
    target = workdir / "checkpoints" / "latest" / "40" / "commit_success.txt"
    deadline = time.time() + 240
    while not target.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.exists(), "the run never reached its step-40 checkpoint"
    assert not (workdir / "results.json").exists(), "the run finished before it was killed; make it longer"

    resumed = train_and_evaluate(config, workdir)
    assert resumed["resumed_from_step"] >= 40
    assert_bitwise_equal(final_params(workdir, 160), final_params(tmp_path / "reference", 160))
    for key in ("validation", "best", "test"):
        assert resumed[key] == reference[key]
    # The log holds each step once, as an uninterrupted run's would.
    def train_records(path):
        return [(r["step"], r["loss"]) for r in read_log(path) if r["split"] == "train"]
    assert train_records(workdir) == train_records(tmp_path / "reference")


def corrupt(step_dir: Path) -> None:
    for path in (step_dir / "state").rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a checkpoint")


def test_corrupted_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    config = tiny_classification(steps=12)
    first = train_and_evaluate(config, tmp_path)
    expected = final_params(tmp_path, 12)
    # As if the run died while its step-12 checkpoint was being written, before it finished.
    (tmp_path / "results.json").unlink()
    corrupt(tmp_path / "checkpoints" / "latest" / "12")
    with pytest.warns(RuntimeWarning, match=r"latest/12 could not be restored .* trying the previous one"):
        again = train_and_evaluate(config, tmp_path)
    assert again["resumed_from_step"] == 8
    assert_bitwise_equal(final_params(tmp_path, 12), expected)
    assert again["validation"] == first["validation"]
    assert len(list((tmp_path / "checkpoints" / "unreadable").iterdir())) == 1  # moved aside, not deleted


def test_no_readable_checkpoint_refuses_to_restart_from_zero(tmp_path):
    config = tiny_classification(steps=8)
    train_and_evaluate(config, tmp_path)
    (tmp_path / "results.json").unlink()
    for step in (4, 8):
        corrupt(tmp_path / "checkpoints" / "latest" / str(step))
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match=r"refusing to restart from step 0"):
        train_and_evaluate(config, tmp_path)


def _nan_from_step_5(model, params, batch, rng, step):
    loss_sum, sums = classification_loss(model, params, batch, rng, step)
    return jnp.where(step >= 5, jnp.nan, loss_sum), sums


if "classification_nan_from_step_5" not in TASKS:
    base = TASKS.get("classification")
    TASKS.register(
        "classification_nan_from_step_5",
        dataclasses.replace(base, loss=_nan_from_step_5),
    )


def test_nan_loss_stops_cleanly_keeping_the_last_good_checkpoint(tmp_path):
    config = tiny_classification(steps=12, train__log_every=1)
    config.task = "classification_nan_from_step_5"
    with pytest.raises(TrainingDivergedError, match=r"non-finite at step 6 \(loss=nan\).*last good checkpoint is step 4"):
        train_and_evaluate(config, tmp_path)
    assert not (tmp_path / "results.json").exists()
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints" / "latest").iterdir() if p.name.isdigit()) == [4]
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(final_params(tmp_path, 4)))
    assert [r.get("event") for r in read_log(tmp_path)][-1] == "diverged"
