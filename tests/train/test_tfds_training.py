"""A run on mocked ``tfds:glue/sst2``: its test split's hidden labels (-1) skip the test, not crash."""

import pytest
import tensorflow_datasets as tfds

from attnjax.data import generate
from attnjax.train import read_log, train_and_evaluate
from train_testing import tiny_classification

SIZES = {"train": 256, "validation": 32, "test": 16}


def _glue_sst2(builder, split, **kwargs):
    """glue/sst2 rows as TFDS stores them: built-in sentiment sentences; test labels hidden (-1)."""
    rows = generate("sentiment", split, SIZES[split], seed=0)
    return [
        {"sentence": r["text"].encode(), "label": -1 if split == "test" else r["label"], "idx": i}
        for i, r in enumerate(rows)
    ]


@pytest.fixture
def glue_sst2_mocked():
    with tfds.testing.mock_data(as_data_source_fn=_glue_sst2):
        yield


def test_glue_sst2_run_skips_the_hidden_test_split(glue_sst2_mocked, tmp_path):
    config = tiny_classification(steps=4)
    config.data.source = "tfds:glue/sst2"
    config.data.options = {"data_dir": str(tmp_path / "tfds")}
    results = train_and_evaluate(config, tmp_path / "run")
    assert results["test"] == {"skipped": "the 'test' split of tfds:glue/sst2 has hidden labels (-1)"}
    assert 0.0 <= results["best"]["metrics"]["accuracy"] <= 1.0
    assert [r["split"] for r in read_log(tmp_path / "run")][-1] == "validation"


def test_evaluating_on_hidden_labels_fails_clearly(glue_sst2_mocked, tmp_path):
    config = tiny_classification(steps=4)
    config.data.source = "tfds:glue/sst2"
    config.data.options = {"data_dir": str(tmp_path / "tfds")}
    config.data.eval_split = "test"
    with pytest.raises(ValueError, match=r"'test' split has labels \[-1\].*-1 marks hidden labels"):
        train_and_evaluate(config, tmp_path / "run")
