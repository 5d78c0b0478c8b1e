"""Local files: ``.tsv``, ``.csv``, ``.jsonl``, ``.jsonl.gz`` and directories of ``<label>/*.txt``.

A local source is either one file / one label directory (it is the ``train`` split), or a
directory holding one file or label directory per split, named by the split or an alias
(``validation``: ``validation``, ``dev``, ``valid``, ``val``), e.g. ``sst2/train.tsv`` +
``sst2/dev.tsv`` or ``aclImdb/train/{pos,neg}`` + ``aclImdb/test/{pos,neg}``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from attnjax.data.tasks import Example, canonical_example, infer_field_map
from attnjax.registry import Registry

RawRows = tuple[list[str], list[dict]]
"""``(column names, rows as dicts)`` as read from a file, before mapping to canonical fields."""

SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "validation": ("validation", "dev", "valid", "val"),
    "test": ("test",),
}

FILE_READERS: Registry[Callable[..., RawRows]] = Registry("local file format")
"""Format -> ``read(path, label_names=None) -> RawRows``; only label directories use ``label_names``."""


def _read_text(path: Path, opener: Callable = open) -> str:
    with opener(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: line {line} is not valid UTF-8 ({err.reason} at byte {err.start}); "
            f"re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _delimited(delimiter: str) -> Callable[[Path], RawRows]:
    def read(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
        # QUOTE_NONE for TSV: GLUE's SST-2 has bare double quotes inside sentences.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.DictReader(io.StringIO(_read_text(path), newline=""), delimiter=delimiter, quoting=quoting)
        rows = list(reader)
        return list(reader.fieldnames or []), rows

    return read


def _json_lines(opener: Callable) -> Callable[[Path], RawRows]:
    def read(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
        try:
            text = _read_text(path, opener)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: cannot decompress ({err}); is it really gzip? rename it to .jsonl if not") from None
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: line {number} is not JSON ({err.msg}); expected one JSON object per line") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {number} is a JSON {type(row).__name__}, expected an object {{field: value}}")
            rows.append(row)
        return (list(rows[0]) if rows else []), rows

    return read


def _label_directory(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
    """``path/<label>/*.txt`` -> rows ``{"text", "label"}`` with the subdirectory name as label.

    With ``label_names`` only those subdirectories are read (aclImdb's ``train/unsup`` is skipped).
    """
    rows = []
    label_dirs = sorted(p for p in path.iterdir() if p.is_dir() and (label_names is None or p.name in label_names))
    if label_names is not None and len(label_dirs) < len(label_names):
        found = sorted(p.name for p in path.iterdir() if p.is_dir())
        raise FileNotFoundError(
            f"{path}: expected a subdirectory per label {list(label_names)}, found {found}; "
            f"fix label_names or the directory layout"
        )
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            rows.append({"text": _read_text(file), "label": label_dir.name})
    return ["text", "label"], rows


FILE_READERS.register(".tsv", _delimited("\t"))
FILE_READERS.register(".csv", _delimited(","))
FILE_READERS.register(".jsonl", _json_lines(open))
FILE_READERS.register(".jsonl.gz", _json_lines(gzip.open))
FILE_READERS.register("directory", _label_directory)


def format_of(path: Path) -> str:
    """Registered format name of ``path`` (``directory`` or its extension, ``.jsonl.gz`` counted whole)."""
    if path.is_dir():
        return "directory"
    name = path.name.lower()
    for fmt in FILE_READERS.names():
        if fmt.startswith(".") and name.endswith(fmt):
            return fmt
    raise ValueError(
        f"{path}: unsupported file type; expected one of {', '.join(FILE_READERS.names())} "
        f"(a directory of <label>/*.txt files counts as 'directory')"
    )


def _is_split_container(path: Path) -> bool:
    """True when ``path`` is a directory holding per-split files or directories (not label dirs)."""
    return path.is_dir() and any(split_path(path, split) for split in SPLIT_ALIASES)


def split_path(root: Path, split: str) -> Optional[Path]:
    """The file or directory of ``split`` inside ``root``, or None."""
    for alias in SPLIT_ALIASES.get(split, (split,)):
        if (root / alias).is_dir():
            return root / alias
        for fmt in FILE_READERS.names():
            if fmt.startswith(".") and (root / f"{alias}{fmt}").is_file():
                return root / f"{alias}{fmt}"
    return None


def local_splits(path: Path) -> dict[str, Path]:
    """Native splits of a local source: ``{split: file or directory}``."""
    if not path.exists():
        raise FileNotFoundError(
            f"local data source {str(path)!r} does not exist; give an existing file "
            f"({', '.join(f for f in FILE_READERS.names() if f.startswith('.'))}), a directory of <label>/*.txt, "
            f"or a directory with train/validation/test files"
        )
    if _is_split_container(path):
        return {split: p for split in SPLIT_ALIASES if (p := split_path(path, split)) is not None}
    return {"train": path}


def read_examples(
    path: Path,
    fields: Optional[Mapping[str, str]] = None,
    label_names: Optional[Sequence[str]] = None,
) -> tuple[str, list[Example], tuple[str, ...]]:
    """Reads one split file into canonical examples: ``(task kind, examples, label names)``.

    ``fields`` maps canonical field -> column (guessed from common names when absent);
    ``label_names`` fixes the label set (default: ``0..max`` for integer labels, sorted names
    otherwise, the subdirectory names for a label directory).
    """
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    columns, rows = FILE_READERS.get(format_of(path))(path, label_names)
    if not rows:
        raise ValueError(f"{path}: no examples found (the file is empty or holds only a header); expected at least one row")
    kind, mapping = infer_field_map(columns, str(path), fields)
    missing = [(i, c) for i, row in enumerate(rows) for c in mapping.values() if c not in row]
    if missing:
        number, column = missing[0]
        raise ValueError(f"{path}: row {number + 1} has no field {column!r} (it has {sorted(rows[number])}); fix the row or pass fields=")
    names: tuple[str, ...] = ()
    if "label" in mapping:
        names = tuple(label_names) if label_names is not None else default_label_names([r[mapping["label"]] for r in rows])
    examples = [canonical_example(row, mapping, names, f"{path} row {i + 1}") for i, row in enumerate(rows)]
    return kind, examples, names


def default_label_names(raw_labels: Sequence) -> tuple[str, ...]:
    """``("0", .., str(max))`` when all labels are integers, else the sorted distinct names."""
    values = {str(v).strip() for v in raw_labels}
    if all(v.isdigit() for v in values):
        return tuple(str(i) for i in range(max(int(v) for v in values) + 1))
    return tuple(sorted(values))
