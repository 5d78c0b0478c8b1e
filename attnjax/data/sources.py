"""Data sources named by a string, and :func:`load_split`.

``"tfds:<name>"`` (TFDS via ``tfds.data_source``), ``"builtin:<task>"`` (generated here, no files),
``"file:<path>"`` or a bare path (local files). The part before ``:`` picks the source kind from
``SOURCE_KINDS``; each kind opens a :class:`Source`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from attnjax.data.splits import ExampleSequence, carve_validation, check_split
from attnjax.data.schema import SCHEMAS
from attnjax.registry import Registry


@dataclass
class Source:
    """An opened source: its task kind, label names and a reader per native split.

    ``readers[split]()`` returns the split's canonical examples (see :mod:`attnjax.data.schema`).
    """

    name: str
    task: str
    readers: Mapping[str, Callable[[], Sequence]]
    label_names: tuple[str, ...] = ()
    how_to_get: str = ""

    @property
    def native_splits(self) -> tuple[str, ...]:
        return tuple(self.readers)


SOURCE_KINDS: Registry[Callable[..., Source]] = Registry("data source kind")


def parse_source(spec: str) -> tuple[str, str]:
    """``"tfds:imdb_reviews"`` -> ``("tfds", "imdb_reviews")``; a bare path -> ``("file", path)``."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"data source must be a non-empty string such as 'tfds:imdb_reviews', got {spec!r}")
    kind, sep, rest = spec.partition(":")
    if sep and kind in SOURCE_KINDS:
        return kind, rest
    if sep and len(kind) > 1 and not Path(spec).exists():
        raise ValueError(
            f"unknown data source kind {kind!r} in {spec!r}; expected one of "
            f"{', '.join(k + ':' for k in SOURCE_KINDS.names())} or a path to local files"
        )
    return "file", spec


def open_source(spec: str, **options) -> Source:
    """Opens the source named by ``spec``; ``options`` go to the source kind (see each kind)."""
    kind, rest = parse_source(spec)
    open_kind = SOURCE_KINDS.get(kind)
    check_options(f"data source {spec!r}", open_kind, options, skip=1)
    return open_kind(rest, **options)


def check_options(where: str, function: Callable, options: Mapping, skip: int = 0) -> None:
    """ValueError naming the accepted options when ``function`` cannot take ``options`` by keyword."""
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {unknown}; it accepts {accepted or 'no options'}")


def load_split(
    source: str,
    split: str,
    *,
    validation_fraction: float = 0.1,
    split_seed: int = 0,
    **options,
) -> ExampleSequence:
    """Canonical examples of ``split`` (``train``/``validation``/``test``) of ``source``.

    When the source has no validation split, ``validation`` is carved from ``train`` (a
    ``validation_fraction`` share, chosen by ``split_seed``) and ``train`` is the rest.
    Other ``options`` go to the source kind, e.g. ``data_dir`` (tfds), ``fields``/``label_names``
    (files), ``num_examples``/``seed`` (builtin).
    """
    check_split(split)
    opened = open_source(source, **options)
    return split_of(opened, split, validation_fraction=validation_fraction, split_seed=split_seed)


def split_of(opened: Source, split: str, *, validation_fraction: float = 0.1, split_seed: int = 0) -> ExampleSequence:
    """``split`` of an opened source (see :func:`load_split`)."""
    check_split(split)
    carve = "validation" not in opened.readers and split in ("train", "validation")
    if split not in opened.readers and not carve:
        raise ValueError(
            f"data source {opened.name!r} has no {split!r} split; it has {', '.join(opened.native_splits)}"
            + (f". {opened.how_to_get}" if opened.how_to_get else "")
        )
    if not carve:
        return _as_sequence(opened.readers[split]())
    train = _as_sequence(opened.readers["train"]())
    train_idx, validation_idx = carve_validation(len(train), validation_fraction, split_seed)
    return train.subset(train_idx if split == "train" else validation_idx)


def _as_sequence(examples: Sequence) -> ExampleSequence:
    return examples if isinstance(examples, ExampleSequence) else ExampleSequence(examples)


@SOURCE_KINDS.register("file")
def _file_source(
    path: str,
    *,
    fields: Optional[Mapping[str, str]] = None,
    label_names: Optional[Sequence[str]] = None,
) -> Source:
    """Local files (see :mod:`attnjax.data.local`); ``fields`` maps canonical field -> column."""
    from attnjax.data import local

    root = Path(path).expanduser()
    paths = local.local_splits(root)
    first_path = next(iter(paths.values()))
    first_kind, first_examples, first_names = local.read_examples(first_path, fields, label_names)
    # Label names come from the first split found (train when present), so every split agrees.
    names = tuple(label_names) if label_names is not None else first_names

    def reader(p: Path) -> Callable[[], Sequence]:
        if p == first_path:
            return lambda: first_examples
        return lambda: local.read_examples(p, fields, names if "label" in SCHEMAS.get(first_kind).fields else None)[1]

    return Source(
        name=str(root),
        task=first_kind,
        readers={split: reader(p) for split, p in paths.items()},
        label_names=names,
        how_to_get=f"add a file named <split>.tsv/.csv/.jsonl/.jsonl.gz (or a <split>/ label directory) to {root}"
        if root.is_dir()
        else "point at a directory holding train/validation/test files",
    )
