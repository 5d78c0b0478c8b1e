"""1 device and 8 devices (data parallel over a mesh) train the same model: same losses, same params."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh process: XLA_FLAGS must be set before jax is imported.
SCRIPT = r"""
import json, sys
import jax, numpy as np
import orbax.checkpoint as ocp
from attnjax.train import read_log, train_and_evaluate
from train_testing import tiny_classification  # tests/train, on PYTHONPATH

assert jax.device_count() == 8, jax.devices()
out = {}
for name, devices in (("one", jax.devices()[:1]), ("eight", jax.devices())):
    config = tiny_classification(steps=6, train__log_every=1, train__eval_every=6, train__checkpoint_every=6)
    workdir = f"{sys.argv[1]}/{name}"
    results = train_and_evaluate(config, workdir, devices=devices)
    params = ocp.StandardCheckpointer().restore(f"{workdir}/checkpoints/latest/6/state")["params"]
    out[name] = {
        "losses": [r["loss"] for r in read_log(workdir) if r["split"] == "train"],
        "devices": results["devices"]["count"],
        "accuracy": results["validation"]["accuracy"],
        "params": [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(params)],
    }
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow
def test_one_and_eight_devices_give_the_same_losses(tmp_path):
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)]),
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["one"]["devices"] == 1 and out["eight"]["devices"] == 8
    assert len(out["one"]["losses"]) == 6
    np.testing.assert_allclose(out["eight"]["losses"], out["one"]["losses"], rtol=1e-5, atol=1e-5)
    # Parameters whose gradient is zero in exact arithmetic (e.g. the key projection's bias: the
    # softmax ignores a shift shared by all keys) get rounding noise whose sign differs between
    # reduction orders, and Adam turns any sign into a full +-learning_rate step. So the check is
    # loose per element (a few steps' worth of the learning rate), tight in the mean.
    for a, b in zip(out["one"]["params"], out["eight"]["params"]):
        np.testing.assert_allclose(b, a, atol=6 * 1e-3)
    flat_one = np.concatenate([np.asarray(a) for a in out["one"]["params"]])
    flat_eight = np.concatenate([np.asarray(b) for b in out["eight"]["params"]])
    assert np.mean(np.abs(flat_one - flat_eight)) < 1e-5 * max(1.0, np.mean(np.abs(flat_one))) * 100
    assert out["one"]["accuracy"] == out["eight"]["accuracy"]
