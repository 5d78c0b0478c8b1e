"""The documented check that attention beats a no-attention baseline on builtin:sentiment.

A reduced run of experiments/builtin_task_check.py (see README "Data" for the full numbers)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "builtin_task_check.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("builtin_task_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # flax modules are dataclasses, which look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_attention_beats_bag_of_words_on_sentiment(check):
    options = dict(task="sentiment", steps=250, batch_size=64, seed=0, num_train=4000, num_eval=1000, buckets=(48,))
    bag = check.run(layers=0, **options)
    attention = check.run(layers=1, **options)
    assert bag["validation_accuracy"] < 0.7
    assert attention["validation_accuracy"] > bag["validation_accuracy"] + 0.15, (bag, attention)
