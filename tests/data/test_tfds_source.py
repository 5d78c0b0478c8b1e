"""TFDS sources against ``tfds.testing.mock_data``, which mocks ``builder.as_data_source`` with
random examples of each data set's real features (no files, no network, no TensorFlow)."""

import importlib.abc
import importlib.util
import inspect
import io
import sys
import tarfile
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from attnjax.data import TFDS_DATASETS, load_split, open_source
from attnjax.data.tfds_source import TensorFlowNeededError, TfdsDataset, _is_missing_tensorflow

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


# --- preparing without TensorFlow ------------------------------------------------------------------


class _NoTensorflow(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by the test)", name=fullname)
        return None


@pytest.fixture
def without_tensorflow(monkeypatch):
    """TensorFlow absent, as on a Colab TPU runtime, also where it is installed: ``import
    tensorflow`` fails, and ``find_spec`` (which TFDS and etils ask) does not find it."""
    for module in [m for m in sys.modules if m.split(".")[0] == "tensorflow"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(sys, "meta_path", [_NoTensorflow(), *sys.meta_path])
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, package=None: None if name.split(".")[0] == "tensorflow" else find_spec(name, package),
    )
    with pytest.raises(ImportError):
        import tensorflow  # noqa: F401


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test when TFDS starts a download."""
    def download(self, *args, **kwargs):
        raise AssertionError(f"TFDS started a download: {args}")

    for method in ("download", "download_and_extract", "download_checksums"):
        monkeypatch.setattr(tfds.download.DownloadManager, method, download)


@pytest.mark.parametrize("name", sorted(CLASSIFICATION) + list(SUMMARIZATION))
def test_download_without_tensorflow_asks_for_it_before_downloading(name, tmp_path, without_tensorflow, no_network):
    split = "train"
    with pytest.raises(TensorFlowNeededError) as info:
        load_split(f"tfds:{name}", split, data_dir=str(tmp_path), download=True)
    message = str(info.value)
    assert f"TFDS data set {name!r} is not prepared in data_dir={tmp_path}" in message
    assert "`pip install tensorflow-cpu`" in message and "nothing was downloaded" in message
    assert TFDS_DATASETS.get(name).prepare_needs_tensorflow in message
    assert not list(tmp_path.iterdir()), "something was written to data_dir"


def test_without_download_it_is_still_not_prepared(tmp_path, without_tensorflow):
    with pytest.raises(FileNotFoundError, match="'glue/sst2' split 'train' is not available"):
        load_split("tfds:glue/sst2", "train", data_dir=str(tmp_path), download=False)


@pytest.mark.parametrize("name", sorted(CLASSIFICATION) + list(SUMMARIZATION))
def test_prepared_data_reads_without_tensorflow_even_with_download(name, without_tensorflow, no_network):
    # mock_data stands in for a prepared data_dir: download=True has nothing to prepare.
    with tfds.testing.mock_data(num_examples=3):
        rows = list(load_split(f"tfds:{name}", "test", data_dir="/nonexistent/tfds", download=True))
    assert len(rows) == 3


def _tiny_builder(class_name, needs_tensorflow):
    """A registered in-memory builder (TFDS names it after the class: AttnjaxTinyNoTf -> attnjax_tiny_no_tf)."""

    def _info(self):
        features = {"sentence": tfds.features.Text(), "label": tfds.features.ClassLabel(num_classes=2)}
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(), "test": self._generate_examples()}

    def _generate_examples(self):
        if needs_tensorflow:
            import tensorflow  # noqa: F401
        for i in range(4):
            yield i, {"sentence": f"sentence {i}", "label": i % 2}

    body = {"VERSION": tfds.core.Version("1.0.0"), "_info": _info, "_split_generators": _split_generators,
            "_generate_examples": _generate_examples}
    return type(class_name, (tfds.core.GeneratorBasedBuilder,), body)


def test_preparation_that_needs_no_tensorflow_runs_without_it(tmp_path, monkeypatch, without_tensorflow):
    _tiny_builder("AttnjaxTinyNoTf", needs_tensorflow=False)
    spec = TfdsDataset("classification", {"text": "sentence", "label": "label"}, ("train", "test"), ("neg", "pos"))
    monkeypatch.setitem(TFDS_DATASETS._items, "attnjax_tiny_no_tf", spec)
    rows = list(load_split("tfds:attnjax_tiny_no_tf", "test", data_dir=str(tmp_path), download=True))
    assert sorted(r["text"] for r in rows) == [f"sentence {i}" for i in range(4)]


def test_preparation_that_imports_tensorflow_unannounced_gets_the_same_advice(tmp_path, monkeypatch, without_tensorflow):
    _tiny_builder("AttnjaxTinyNeedsTf", needs_tensorflow=True)
    spec = TfdsDataset("classification", {"text": "sentence", "label": "label"}, ("train", "test"), ("neg", "pos"))
    monkeypatch.setitem(TFDS_DATASETS._items, "attnjax_tiny_needs_tf", spec)
    with pytest.raises(TensorFlowNeededError, match=r"'attnjax_tiny_needs_tf'.*`pip install tensorflow-cpu`"):
        load_split("tfds:attnjax_tiny_needs_tf", "train", data_dir=str(tmp_path), download=True)


def _fake_archives(tmp_path):
    """Local stand-ins for the files glue/sst2 and imdb_reviews download (same layout, two rows)."""
    sst2 = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(sst2, "w") as archive:
        archive.writestr("SST-2/train.tsv", "sentence\tlabel\ngood film\t1\nbad film\t0\n")
        archive.writestr("SST-2/dev.tsv", "sentence\tlabel\nfine film\t1\n")
        archive.writestr("SST-2/test.tsv", "index\tsentence\n0\tsome film\n")
    imdb = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(imdb, "w:gz") as archive:
        for member in ("train/pos/0_9.txt", "train/neg/1_2.txt", "test/pos/0_9.txt", "test/neg/1_2.txt"):
            info = tarfile.TarInfo(f"aclImdb/{member}")
            info.size = len(b"a review")
            archive.addfile(info, io.BytesIO(b"a review"))
    return {"glue/sst2": sst2, "imdb_reviews": imdb}


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_tfds_really_needs_tensorflow_to_prepare(name, tmp_path, monkeypatch, without_tensorflow):
    """The builder itself, on local copies of its downloads, stops at ``import tensorflow``: when a
    TFDS release no longer does, this fails, and the data set's prepare_needs_tensorflow goes."""
    import tensorflow_datasets.text  # noqa: F401  (registers glue and imdb_reviews)

    archive = _fake_archives(tmp_path)[name]
    monkeypatch.setattr(
        tfds.download.DownloadManager, "download", lambda self, urls: tfds.core.utils.map_nested(lambda _: archive, urls)
    )
    monkeypatch.setattr(
        tfds.download.DownloadManager, "download_and_extract", lambda self, urls: self.extract(self.download(urls))
    )
    builder = tfds.builder(name, data_dir=str(tmp_path / "data"), file_format="array_record")
    with pytest.raises(Exception) as info:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    assert _is_missing_tensorflow(info.value), f"{name} failed, but not for want of TensorFlow: {info.value!r}"


@pytest.mark.parametrize("name", SUMMARIZATION)
def test_summarization_builders_read_with_tensorflow(name):
    """Their downloads are too big to fake here; their builders' code reads with tf.io.gfile."""
    import tensorflow_datasets.summarization  # noqa: F401

    source = inspect.getsource(inspect.getmodule(tfds.builder_cls(name)))
    assert "tf.io.gfile" in source
