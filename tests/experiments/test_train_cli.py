"""experiments/train.py: a config file plus command-line overrides trains and resumes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(workdir, *overrides):
    command = [
        sys.executable, str(REPO / "experiments" / "train.py"),
        "--config", str(REPO / "experiments" / "configs" / "sentiment_builtin.py"), "--workdir", str(workdir),
        "--config.train.num_steps=4", "--config.train.eval_every=2", "--config.train.checkpoint_every=2",
        "--config.train.progress=False", "--config.model.d_model=16", "--config.model.num_layers=1",
        "--config.model.mlp_dim=16", "--config.data.bucket_lengths=(64,)", "--config.data.max_train_examples=512",
        "--config.data.max_eval_examples=64", "--config.data.max_test_examples=64", *overrides,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": ""})


@pytest.mark.slow
def test_config_file_with_overrides_trains_and_a_rerun_returns_the_results(tmp_path):
    first = run_cli(tmp_path, "--config.model.attention=additive")
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout[first.stdout.index("{"):])
    assert summary["attention"] == "additive" and summary["steps"] == 4
    stored = json.loads((tmp_path / "config.json").read_text())["config"]
    assert stored["model"]["attention"] == "additive" and stored["data"]["bucket_lengths"] == [64]

    other = run_cli(tmp_path, "--config.model.attention=dot")
    assert other.returncode != 0
    assert "model.attention: 'additive' -> 'dot'" in other.stderr and "--overwrite" in other.stderr


def test_an_unknown_override_is_one_line_naming_the_section_and_nearest_fields(tmp_path):
    for override, line in (
        ("--config.no_such_field=1", "unknown field 'no_such_field' in config; config has: data, eval, model"),
        ("--config.train.num_step=3", "unknown field 'num_step' in config.train; did you mean 'num_steps'"),
    ):
        result = run_cli(tmp_path / "run", override)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert line in result.stderr
    assert not (tmp_path / "run").exists()
