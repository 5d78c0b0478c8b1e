"""Local files: ``.tsv``, ``.csv``, ``.jsonl``, ``.jsonl.gz`` and directories in one of ``DIRECTORY_LAYOUTS``.

A local source is either one file / one directory (it is the ``train`` split), or a directory
holding one file or directory per split, named by the split or an alias (``validation``:
``validation``, ``dev``, ``valid``, ``val``), e.g. ``sst2/train.tsv`` + ``sst2/dev.tsv`` or
``aclImdb/train/{pos,neg}`` + ``aclImdb/test/{pos,neg}``.

Directory layouts (one split each):
  ``label folders``    ``<label>/*.txt``, one example per file (aclImdb);
  ``line files``       one sentence-per-line file per label: ``<name>.<label>`` files sharing a name
                       (``rt-polarity.pos`` + ``rt-polarity.neg``, the Pang & Lee release) or ``<label>.txt``;
  ``parallel folders`` two folders of ``.txt`` files, documents and summaries matched by relative path
                       (BBC News Summary: ``News Articles/<topic>/NNN.txt`` + ``Summaries/<topic>/NNN.txt``);
                       the folder whose name says summary / abstract / highlight holds the summaries.

Integer labels must be ``0..N-1`` (a stray ``-1`` among ``0``/``1`` is refused, naming the row); an
empty label cell is an error naming file and row.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from attnjax.data.schema import Example, canonical_example, infer_field_map
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


@dataclass(frozen=True)
class DirectoryLayout:
    """One way of laying out a split as a directory: how to recognise it and how to read it."""

    description: str  # for error messages: what the layout looks like
    matches: Callable[[Path], bool]
    read: Callable[..., RawRows]  # read(path, label_names=None) -> RawRows


DIRECTORY_LAYOUTS: Registry[DirectoryLayout] = Registry("local directory layout")
"""Tried in registration order; the first that matches reads the directory."""


def _subdirectories(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


SUMMARY_FOLDER_WORDS = ("summar", "abstract", "highlight")


def _summary_folder(folders: Sequence[Path]) -> Optional[Path]:
    named = [f for f in folders if any(w in f.name.lower() for w in SUMMARY_FOLDER_WORDS)]
    return named[0] if len(named) == 1 else None


def _texts_by_relative_path(folder: Path) -> dict[Path, Path]:
    return {p.relative_to(folder): p for p in sorted(folder.rglob("*.txt")) if p.is_file()}


def _is_parallel_folders(path: Path) -> bool:
    folders = _subdirectories(path)
    return len(folders) == 2 and _summary_folder(folders) is not None and all(any(f.rglob("*.txt")) for f in folders)


def _parallel_folders(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
    """Rows ``{"document", "summary"}`` from two folders whose ``.txt`` files match by relative path."""
    folders = _subdirectories(path)
    summaries_dir = _summary_folder(folders)
    documents_dir = next(f for f in folders if f != summaries_dir)
    documents, summaries = _texts_by_relative_path(documents_dir), _texts_by_relative_path(summaries_dir)
    for missing, have, lack in ((sorted(set(documents) - set(summaries)), documents_dir, summaries_dir),
                                (sorted(set(summaries) - set(documents)), summaries_dir, documents_dir)):
        if missing:
            raise ValueError(
                f"{path}: {len(missing)} file(s) of {have.name!r} have no counterpart at the same relative path in "
                f"{lack.name!r} (e.g. {', '.join(str(m) for m in missing[:3])}); documents and summaries are matched "
                f"by relative path: add or remove those files"
            )
    rows = [{"document": _read_text(documents[rel]), "summary": _read_text(summaries[rel])} for rel in sorted(documents)]
    return ["document", "summary"], rows


def _is_label_folders(path: Path) -> bool:
    folders = _subdirectories(path)
    return any(any(f.glob("*.txt")) for f in folders)  # aclImdb/train also holds urls_*.txt, *.feat files


def _label_folders(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
    """``path/<label>/*.txt`` -> rows ``{"text", "label"}`` with the subdirectory name as label.

    With ``label_names`` only those subdirectories are read (aclImdb's ``train/unsup`` is skipped).
    """
    rows = []
    label_dirs = [p for p in _subdirectories(path) if label_names is None or p.name in label_names]
    if label_names is not None and len(label_dirs) < len(label_names):
        found = [p.name for p in _subdirectories(path)]
        raise FileNotFoundError(
            f"{path}: expected a subdirectory per label {list(label_names)}, found {found}; "
            f"fix label_names or the directory layout"
        )
    for label_dir in label_dirs:
        for file in sorted(label_dir.glob("*.txt")):
            rows.append({"text": _read_text(file), "label": label_dir.name})
    return ["text", "label"], rows


def _line_file_labels(path: Path) -> Optional[dict[str, Path]]:
    """``{label: file}`` when ``path`` holds only sentence-per-line files, one per label; else None."""
    files = _files(path)
    if len(files) < 2 or _subdirectories(path) or any(format_of_name(f.name) for f in files):
        return None
    split_names = {alias for aliases in SPLIT_ALIASES.values() for alias in aliases}
    if any(f.stem.lower() in split_names for f in files):  # train.txt + test.txt: splits, not labels
        return None
    stems, suffixes = {f.stem for f in files}, [f.suffix[1:] for f in files]
    if len(stems) == 1 and all(suffixes):  # rt-polarity.pos + rt-polarity.neg
        return dict(zip(suffixes, files))
    if all(f.suffix == ".txt" for f in files):  # neg.txt + pos.txt
        return {f.stem: f for f in files}
    return None


def _line_files(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
    """One row ``{"text", "label"}`` per non-empty line; the label comes from the file's name."""
    rows = []
    for label, file in sorted(_line_file_labels(path).items()):
        if label_names is not None and label not in label_names:
            continue
        lines = [line for line in _read_text(file).splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{file}: holds no sentence (label {label!r}); expected one example per line")
        rows.extend({"text": line, "label": label} for line in lines)
    return ["text", "label"], rows


DIRECTORY_LAYOUTS.register("parallel folders", DirectoryLayout(
    "two folders of .txt documents and summaries matched by relative path (e.g. 'News Articles/' + 'Summaries/')",
    _is_parallel_folders, _parallel_folders,
))
DIRECTORY_LAYOUTS.register("label folders", DirectoryLayout(
    "one folder of .txt files per label (<label>/*.txt)", _is_label_folders, _label_folders,
))
DIRECTORY_LAYOUTS.register("line files", DirectoryLayout(
    "one sentence-per-line file per label (<name>.pos + <name>.neg, or <label>.txt)",
    lambda path: _line_file_labels(path) is not None, _line_files,
))


def layout_of(path: Path) -> str:
    """The name of the first of ``DIRECTORY_LAYOUTS`` that ``path`` matches; ValueError naming what
    the directory holds and the layouts (and split files) accepted otherwise."""
    for name in DIRECTORY_LAYOUTS:
        if DIRECTORY_LAYOUTS.get(name).matches(path):
            return name
    folders, files = _subdirectories(path), _files(path)
    found = []
    if folders:
        found.append(f"{len(folders)} folder(s) ({', '.join(f.name for f in folders[:5])})")
    if files:
        found.append(f"{len(files)} file(s) ({', '.join(f.name for f in files[:5])})")
    accepted = "; ".join(f"{name}: {DIRECTORY_LAYOUTS.get(name).description}" for name in DIRECTORY_LAYOUTS)
    raise ValueError(
        f"{path}: cannot tell how this directory holds examples; it has {' and '.join(found) or 'nothing'}. "
        f"Accepted directory layouts: {accepted}; or one file or directory per split named "
        f"{'/'.join(SPLIT_ALIASES)} ({', '.join(f for f in FILE_READERS.names() if f.startswith('.'))})"
    )


def _directory(path: Path, label_names: Optional[Sequence[str]] = None) -> RawRows:
    return DIRECTORY_LAYOUTS.get(layout_of(path)).read(path, label_names)


FILE_READERS.register(".tsv", _delimited("\t"))
FILE_READERS.register(".csv", _delimited(","))
FILE_READERS.register(".jsonl", _json_lines(open))
FILE_READERS.register(".jsonl.gz", _json_lines(gzip.open))
FILE_READERS.register("directory", _directory)


def format_of(path: Path) -> str:
    """Registered format name of ``path`` (``directory`` or its extension, ``.jsonl.gz`` counted whole)."""
    if path.is_dir():
        return "directory"
    fmt = format_of_name(path.name)
    if fmt is None:
        raise ValueError(
            f"{path}: unsupported file type; expected one of {', '.join(FILE_READERS.names())} "
            f"(see attnjax.data.local for the directory layouts)"
        )
    return fmt


def format_of_name(name: str) -> Optional[str]:
    """The registered file format a file called ``name`` has (``.jsonl.gz`` counted whole), or None."""
    name = name.lower()
    return next((fmt for fmt in FILE_READERS.names() if fmt.startswith(".") and name.endswith(fmt)), None)


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
    fmt = format_of(path)
    columns, rows = FILE_READERS.get(fmt)(path, label_names)
    if not rows:
        what = f"its {layout_of(path)} hold no example" if fmt == "directory" else "the file is empty or holds only a header"
        raise ValueError(f"{path}: no examples found ({what}); expected at least one")
    kind, mapping = infer_field_map(columns, str(path), fields)
    missing = [(i, c) for i, row in enumerate(rows) for c in mapping.values() if c not in row]
    if missing:
        number, column = missing[0]
        raise ValueError(f"{path}: row {number + 1} has no field {column!r} (it has {sorted(rows[number])}); fix the row or pass fields=")
    names: tuple[str, ...] = ()
    if "label" in mapping:
        raw = [r[mapping["label"]] for r in rows]
        empty = next((i for i, v in enumerate(raw) if v is None or (isinstance(v, str) and not v.strip())), None)
        if empty is not None:
            raise ValueError(
                f"{path}: row {empty + 1} has an empty label ({mapping['label']!r} is {raw[empty]!r}); every row needs a "
                f"label: fill it in or remove the row"
            )
        names = tuple(label_names) if label_names is not None else default_label_names(raw, str(path))
    examples = [canonical_example(row, mapping, names, f"{path} row {i + 1}") for i, row in enumerate(rows)]
    return kind, examples, names


def _as_int(value) -> Optional[int]:
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() and not isinstance(value, bool) else None


def default_label_names(raw_labels: Sequence, where: str = "labels") -> tuple[str, ...]:
    """``("0", .., str(N - 1))`` when all labels are integers forming ``0..N-1``, else the sorted
    distinct names; ValueError naming the values found (and the first row of one outside
    ``0..N-1``) when integer labels do not form ``0..N-1``."""
    integers = [_as_int(v) for v in raw_labels]
    if all(i is not None for i in integers):
        found = sorted(set(integers))
        if found != list(range(len(found))):
            stray = next(n for n, i in enumerate(integers) if not 0 <= i < len(found))
            raise ValueError(
                f"{where}: integer labels must be 0..N-1, found {found} (row {stray + 1} has {integers[stray]}); "
                f"fix or remove the rows with other labels, or pass label_names= listing every label in index order"
            )
        return tuple(str(i) for i in found)
    return tuple(sorted({str(v).strip() for v in raw_labels}))
