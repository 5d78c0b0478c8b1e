"""TFDS sources read through ``tfds.data_source`` (random access over ArrayRecord; no TensorFlow).

Supported names and how their features map to canonical fields are listed in ``TFDS_DATASETS``.
Nothing is downloaded unless ``download=True``: a data set that is not prepared in ``data_dir``
fails with the command that prepares it. Data sets are read, and prepared, as ArrayRecord (the
random-access format ``tfds.data_source`` needs).

A label TFDS stores as -1 is a hidden label (GLUE's test splits withhold theirs): it comes through
as ``HIDDEN_LABEL`` (-1), so the split can still be read; any other label outside the label set
raises a ValueError naming the example.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from attnjax.data.sources import SOURCE_KINDS, Source
from attnjax.data.splits import ExampleSequence
from attnjax.data.tasks import Example, canonical_example
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


TFDS_DATASETS: Registry[TfdsDataset] = Registry("TFDS data set")
TFDS_DATASETS.register(
    "imdb_reviews",
    TfdsDataset("classification", {"text": "text", "label": "label"}, ("train", "test"), ("neg", "pos")),
)
TFDS_DATASETS.register(
    "glue/sst2",
    TfdsDataset(
        "classification",
        {"text": "sentence", "label": "label"},
        ("train", "validation", "test"),
        ("negative", "positive"),
        note="GLUE hides the test labels (they read -1): evaluate on validation.",
    ),
)
TFDS_DATASETS.register(
    "cnn_dailymail",
    TfdsDataset("summarization", {"document": "article", "summary": "highlights"}, ("train", "validation", "test")),
)
TFDS_DATASETS.register(
    "gigaword",
    TfdsDataset("summarization", {"document": "document", "summary": "summary"}, ("train", "validation", "test")),
)
TFDS_DATASETS.register(
    "xsum",
    TfdsDataset(
        "summarization",
        {"document": "document", "summary": "summary"},
        ("train", "validation", "test"),
        note="xsum needs a manual download first: see https://www.tensorflow.org/datasets/catalog/xsum.",
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
        f"prepare it on a machine with network access: `pip install tensorflow-datasets array_record && "
        f"tfds build {name} --data_dir={target} --file_format=array_record`, copy {target} here and pass "
        f"data_dir={target!r} (or pass download=True when this machine is online)"
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


@SOURCE_KINDS.register("tfds")
def tfds_source(name: str, *, data_dir: Optional[str] = None, download: bool = False) -> Source:
    """``tfds:<name>`` for a name in ``TFDS_DATASETS``, read from TFDS's ``data_dir``."""
    spec = TFDS_DATASETS.get(name)
    data_dir = os.path.expanduser(data_dir) if data_dir else None

    def reader(split: str) -> Callable[[], Sequence]:
        def read() -> ExampleSequence:
            tfds = _import_tfds()
            try:
                data = tfds.data_source(
                    name, split=split, data_dir=data_dir, download=download,
                    # tfds picks ArrayRecord by itself only when data_dir is None; with a data_dir,
                    # download=True would prepare TFRecord files, which data_source cannot read.
                    builder_kwargs={"file_format": "array_record"},
                )
            except Exception as err:  # tfds raises many types (RuntimeError, AssertionError, DatasetNotFoundError...)
                found = (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(":")
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
