"""TFDS sources read through ``tfds.data_source`` (random access over ArrayRecord; no TensorFlow).

Supported names and how their features map to canonical fields are listed in ``TFDS_DATASETS``.
Nothing is downloaded unless ``download=True``: a data set that is not prepared in ``data_dir``
fails with the command that prepares it. Data sets are read, and prepared, as ArrayRecord (the
random-access format ``tfds.data_source`` needs).

Preparing (``download=True`` on a data set not yet in ``data_dir``) runs TFDS's builder, which for
each data set here imports TensorFlow (``TfdsDataset.prepare_needs_tensorflow`` says where);
reading never does. Without TensorFlow such a preparation fails with ``TensorFlowNeededError``,
before anything is downloaded, saying to ``pip install tensorflow-cpu``.

A label TFDS stores as -1 is a hidden label (GLUE's test splits withhold theirs): it comes through
as ``HIDDEN_LABEL`` (-1), so the split can still be read; any other label outside the label set
raises a ValueError naming the example.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from attnjax.data.sources import SOURCE_KINDS, Source
from attnjax.data.splits import ExampleSequence
from attnjax.data.schema import Example, canonical_example
from attnjax.registry import Registry

# TFDS's ClassLabel stores -1 for an example whose label is withheld (GLUE test splits).
HIDDEN_LABEL = -1


@dataclass(frozen=True)
class TfdsDataset:
    """How one TFDS data set maps to canonical fields: ``fields`` is canonical -> TFDS feature."""

    task: str
    fields: Mapping[str, str]
    splits: tuple[str, ...]
    label_names: tuple[str, ...] = ()
    note: str = ""
    # Where TFDS's preparation of the data set imports TensorFlow; "" when it does not.
    prepare_needs_tensorflow: str = ""


class TensorFlowNeededError(ImportError):
    """Preparing a TFDS data set needs TensorFlow, which is not installed."""


# Read in tensorflow-datasets 4.9.10's sources and checked by tests/data/test_tfds_source.py.
_EXTRACTS_WITH_TF = "TFDS extracts the downloaded archive with tf.io.gfile"
_READS_WITH_TF = "its TFDS builder reads the downloaded files with tf.io.gfile"


TFDS_DATASETS: Registry[TfdsDataset] = Registry("TFDS data set")
TFDS_DATASETS.register(
    "imdb_reviews",
    TfdsDataset(
        "classification",
        {"text": "text", "label": "label"},
        ("train", "test"),
        ("neg", "pos"),
        prepare_needs_tensorflow="TFDS reads the downloaded archive with tf.io.gfile",
    ),
)
TFDS_DATASETS.register(
    "glue/sst2",
    TfdsDataset(
        "classification",
        {"text": "sentence", "label": "label"},
        ("train", "validation", "test"),
        ("negative", "positive"),
        note="GLUE hides the test labels (they read -1): evaluate on validation.",
        prepare_needs_tensorflow=_EXTRACTS_WITH_TF,
    ),
)
TFDS_DATASETS.register(
    "cnn_dailymail",
    TfdsDataset(
        "summarization", {"document": "article", "summary": "highlights"}, ("train", "validation", "test"),
        prepare_needs_tensorflow=_READS_WITH_TF,
    ),
)
TFDS_DATASETS.register(
    "gigaword",
    TfdsDataset(
        "summarization", {"document": "document", "summary": "summary"}, ("train", "validation", "test"),
        prepare_needs_tensorflow=_READS_WITH_TF,
    ),
)
TFDS_DATASETS.register(
    "xsum",
    TfdsDataset(
        "summarization",
        {"document": "document", "summary": "summary"},
        ("train", "validation", "test"),
        note="xsum needs a manual download first: see https://www.tensorflow.org/datasets/catalog/xsum.",
        prepare_needs_tensorflow=_READS_WITH_TF,
    ),
)


def _import_tfds():
    import tensorflow_datasets as tfds
    # Importing the families registers their builders with tfds (data_source looks them up by name).
    import tensorflow_datasets.summarization  # noqa: F401
    import tensorflow_datasets.text  # noqa: F401

    return tfds


def how_to_prepare(name: str, data_dir: Optional[str]) -> str:
    target = data_dir or "~/tensorflow_datasets"
    return (
        f"prepare it on a machine with network access: `pip install tensorflow-cpu tensorflow-datasets "
        f"array_record && tfds build {name} --data_dir={target} --file_format=array_record`, copy {target} "
        f"here and pass data_dir={target!r} (or pass download=True when this machine is online)"
    )


def _is_hidden(value) -> bool:
    if hasattr(value, "item"):  # numpy scalars from the ArrayRecord reader
        value = value.item()
    return isinstance(value, int) and not isinstance(value, bool) and value == HIDDEN_LABEL


def _converter(name: str, spec: TfdsDataset, split: str) -> Callable[[dict, int], Example]:
    where = f"tfds:{name} split {split!r}"
    note = f" ({spec.note})" if spec.note else ""
    label_column = spec.fields.get("label")
    unlabelled = {field: column for field, column in spec.fields.items() if field != "label"}

    def convert(row: dict, i: int) -> Example:
        if label_column is not None and _is_hidden(row[label_column]):
            # Passed through, not rejected: the split stays readable and the training loop
            # skips evaluating on it ("hidden labels (-1)").
            example = canonical_example(row, unlabelled, spec.label_names, f"{where} example {i}{note}")
            return {field: HIDDEN_LABEL if field == "label" else example[field] for field in spec.fields}
        return canonical_example(row, spec.fields, spec.label_names, f"{where} example {i}{note}")

    return convert


def _data_source(tfds, name: str, spec: TfdsDataset, split: str, data_dir: Optional[str], download: bool):
    """The split as prepared in data_dir; with ``download``, prepared first when it is not there."""
    def open_split(prepare: bool):
        return tfds.data_source(
            name, split=split, data_dir=data_dir, download=prepare,
            # tfds picks ArrayRecord by itself only when data_dir is None; with a data_dir,
            # download=True would prepare TFRecord files, which data_source cannot read.
            builder_kwargs={"file_format": "array_record"},
        )

    try:
        return open_split(prepare=False)
    except Exception as not_prepared:
        if not download:
            raise
        found = _first_line(not_prepared)
    # Checked before TFDS downloads anything (cnn_dailymail's archives are hundreds of MB).
    if spec.prepare_needs_tensorflow:
        try:
            importlib.import_module("tensorflow")
        except ImportError as err:
            raise _tensorflow_needed(
                name, data_dir, f"{spec.prepare_needs_tensorflow}; tfds said: {found}", "nothing was downloaded"
            ) from err
    return open_split(prepare=True)


def _tensorflow_needed(name: str, data_dir: Optional[str], why: str, done: str) -> TensorFlowNeededError:
    return TensorFlowNeededError(
        f"TFDS data set {name!r} is not prepared in data_dir={data_dir or 'TFDS default'}, and preparing it "
        f"(download=True) needs TensorFlow, which is not installed here ({why}); {done}. Run "
        f"`pip install tensorflow-cpu`, restart Python and run again: TensorFlow only prepares the files, "
        f"attnjax reads them without it."
    )


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(":")


def _is_missing_tensorflow(err: Optional[BaseException]) -> bool:
    """True when ``err`` was caused by a failed ``import tensorflow`` (anywhere in its chain)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] == "tensorflow":
            return True
        err = err.__cause__ or err.__context__
    return False


@SOURCE_KINDS.register("tfds")
def tfds_source(name: str, *, data_dir: Optional[str] = None, download: bool = False) -> Source:
    """``tfds:<name>`` for a name in ``TFDS_DATASETS``, read from TFDS's ``data_dir``."""
    spec = TFDS_DATASETS.get(name)
    data_dir = os.path.expanduser(data_dir) if data_dir else None

    def reader(split: str) -> Callable[[], Sequence]:
        def read() -> ExampleSequence:
            tfds = _import_tfds()
            try:
                data = _data_source(tfds, name, spec, split, data_dir, download)
            except TensorFlowNeededError:
                raise
            except Exception as err:  # tfds raises many types (RuntimeError, AssertionError, DatasetNotFoundError...)
                found = _first_line(err)
                if _is_missing_tensorflow(err):  # a preparation that imported TensorFlow unannounced
                    raise _tensorflow_needed(name, data_dir, f"tfds said: {found}", "it stopped there") from err
                raise FileNotFoundError(
                    f"TFDS data set {name!r} split {split!r} is not available in data_dir={data_dir or 'TFDS default'} "
                    f"(download={download}); tfds said: {found}. To get it, {how_to_prepare(name, data_dir)}."
                    + (f" {spec.note}" if spec.note else "")
                ) from err
            return ExampleSequence(data, _converter(name, spec, split))

        return read

    return Source(
        name=f"tfds:{name}",
        task=spec.task,
        readers={split: reader(split) for split in spec.splits},
        label_names=spec.label_names,
        how_to_get=spec.note,
    )
