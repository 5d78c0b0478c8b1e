"""TFDS sources against ``tfds.testing.mock_data``, which mocks ``builder.as_data_source`` with
random examples of each data set's real features (no files, no network, no TensorFlow)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from attnjax.data import TFDS_DATASETS, load_split, open_source

CLASSIFICATION = {"imdb_reviews": ("neg", "pos"), "glue/sst2": ("negative", "positive")}
SUMMARIZATION = ("cnn_dailymail", "gigaword", "xsum")


def test_the_five_names_are_registered():
    assert set(TFDS_DATASETS.names()) == set(CLASSIFICATION) | set(SUMMARIZATION)


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_classification_with_mock_data(name):
    with tfds.testing.mock_data(num_examples=12):
        source = open_source(f"tfds:{name}", data_dir="/nonexistent/tfds")
        train = load_split(f"tfds:{name}", "train", data_dir="/nonexistent/tfds")
        validation = load_split(f"tfds:{name}", "validation", data_dir="/nonexistent/tfds")
        rows = list(train) + list(validation)
    assert source.task == "classification" and source.label_names == CLASSIFICATION[name]
    assert all(set(r) == {"text", "label"} and isinstance(r["text"], str) and r["label"] in (0, 1) for r in rows)
    if name == "imdb_reviews":  # no validation split in TFDS: carved from train, disjoint from it
        assert (len(train), len(validation)) == (11, 1)
    else:
        assert (len(train), len(validation)) == (12, 12)


@pytest.mark.parametrize("name", SUMMARIZATION)
def test_summarization_with_mock_data(name):
    with tfds.testing.mock_data(num_examples=5):
        source = open_source(f"tfds:{name}")
        splits = {s: list(load_split(f"tfds:{name}", s)) for s in ("train", "validation", "test")}
    assert source.task == "summarization"
    for rows in splits.values():
        assert len(rows) == 5
        assert all(set(r) == {"document", "summary"} and isinstance(r["document"], str) and r["summary"] for r in rows)


def test_imdb_has_no_validation_in_tfds_but_test_is_native():
    assert "validation" not in open_source("tfds:imdb_reviews").native_splits
    assert "test" in open_source("tfds:imdb_reviews").native_splits


def test_not_prepared_says_what_and_how(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_split("tfds:glue/sst2", "train", data_dir=str(tmp_path))[0]
    message = str(info.value)
    assert "'glue/sst2' split 'train'" in message and str(tmp_path) in message
    assert f"tfds build glue/sst2 --data_dir={tmp_path} --file_format=array_record" in message


def test_hidden_label_passes_through_other_bad_labels_still_fail():
    from attnjax.data.tfds_source import HIDDEN_LABEL, TFDS_DATASETS, _converter

    convert = _converter("glue/sst2", TFDS_DATASETS.get("glue/sst2"), "test")
    assert convert({"sentence": b"fine", "label": 1, "idx": 0}, 0) == {"text": "fine", "label": 1}
    assert convert({"sentence": b"fine", "label": -1, "idx": 3}, 3) == {"text": "fine", "label": HIDDEN_LABEL}
    assert convert({"sentence": b"fine", "label": np.int64(-1), "idx": 3}, 3)["label"] == -1
    for bad in (2, -2):
        with pytest.raises(ValueError, match=rf"split 'test' example 4 \(GLUE hides.*label {bad} is outside the label set"):
            convert({"sentence": b"fine", "label": bad, "idx": 4}, 4)


def _glue_sst2_rows(split, decoders=None, deserialize_method=None, **kwargs):
    """Raw glue/sst2 rows as TFDS stores them: the test split's labels are hidden (-1)."""
    return [
        {"sentence": f"sentence {i} of {split}".encode(), "label": -1 if split == "test" else i % 2, "idx": i}
        for i in range(6)
    ]


def test_glue_test_split_with_hidden_labels_loads():
    with tfds.testing.mock_data(as_data_source_fn=lambda builder, split, **kwargs: _glue_sst2_rows(split)):
        test = list(load_split("tfds:glue/sst2", "test", data_dir="/nonexistent/tfds"))
        train = list(load_split("tfds:glue/sst2", "train", data_dir="/nonexistent/tfds"))
    assert test == [{"text": f"sentence {i} of test", "label": -1} for i in range(6)]
    assert [r["label"] for r in train] == [0, 1, 0, 1, 0, 1]


def test_download_prepares_array_record_without_tensorflow(tmp_path, monkeypatch):
    """download=True with a data_dir prepares what tfds.data_source can read (ArrayRecord; TFDS's
    default there is TFRecord, which needs TensorFlow and has no random access), hidden labels
    included. A tiny in-memory builder stands in for a real download."""
    from attnjax.data.tfds_source import TFDS_DATASETS, TfdsDataset

    class AttnjaxTinyGlue(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {"sentence": tfds.features.Text(), "label": tfds.features.ClassLabel(num_classes=2)}
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(False), "test": self._generate_examples(True)}

        def _generate_examples(self, hidden):
            for i in range(4):
                yield i, {"sentence": f"sentence {i}", "label": -1 if hidden else i % 2}

    spec = TfdsDataset("classification", {"text": "sentence", "label": "label"}, ("train", "test"), ("neg", "pos"))
    monkeypatch.setitem(TFDS_DATASETS._items, "attnjax_tiny_glue", spec)
    test = list(load_split("tfds:attnjax_tiny_glue", "test", data_dir=str(tmp_path), download=True))
    assert sorted(r["text"] for r in test) == [f"sentence {i}" for i in range(4)]
    assert {r["label"] for r in test} == {-1}
    assert list((tmp_path / "attnjax_tiny_glue" / "1.0.0").glob("*.array_record-*"))


def test_tfds_builders_find_their_code():
    # download=True reads a builder's checksums beside its code (code_path), which imports
    # importlib_resources: a dependency of attnjax for that reason.
    import tensorflow_datasets.text  # noqa: F401

    assert tfds.builder("glue/sst2", data_dir="/nonexistent/tfds").code_path.name == "glue.py"
