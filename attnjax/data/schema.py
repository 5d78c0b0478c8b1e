"""Record schemas: the canonical fields of each kind of example, registered by name in :data:`SCHEMAS`.

Every source yields plain dicts with canonical fields, whatever its column names (a source's
``task`` names its schema; an :class:`attnjax.train.Task` reads data of one schema, its ``kind``):
  classification: ``{"text": str, "label": int}`` (label indexes ``label_names``; -1 is a hidden
  label, which only TFDS sources pass through, e.g. for GLUE's test splits);
  summarization:  ``{"document": str, "summary": str}``.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from attnjax.registry import Registry

Example = dict[str, Any]


@dataclass(frozen=True)
class Schema:
    """Canonical fields of one kind of record and, per field, column names that sources commonly use."""

    name: str
    fields: tuple[str, ...]
    aliases: Mapping[str, tuple[str, ...]]


SCHEMAS: Registry[Schema] = Registry("record schema")
SCHEMAS.register(
    "classification",
    Schema(
        "classification",
        ("text", "label"),
        {"text": ("text", "sentence", "review", "content"), "label": ("label", "sentiment")},
    ),
)
SCHEMAS.register(
    "summarization",
    Schema(
        "summarization",
        ("document", "summary"),
        {"document": ("document", "article", "text"), "summary": ("summary", "abstract", "highlights")},
    ),
)


def infer_field_map(columns: Sequence[str], where: str, fields: Optional[Mapping[str, str]] = None) -> tuple[str, dict[str, str]]:
    """Returns ``(task kind, {canonical field: column})`` for a source with ``columns``.

    ``fields`` (canonical -> column) overrides the guess; the task kind is the first one whose
    canonical fields are all given or found among the aliases.
    """
    columns = list(columns)
    given = dict(fields or {})
    for canonical, column in given.items():
        if column not in columns:
            raise ValueError(
                f"{where}: field {canonical!r} is mapped to column {column!r}, but the columns found are "
                f"{columns}; pass fields={{{canonical!r}: <one of those>}}"
            )
    # Kinds registered later are tried first, so a new kind's fields win over the built-in ones (and
    # summarization, whose document may sit in a "text" column, over classification).
    for kind_name in reversed(SCHEMAS.names()):
        kind = SCHEMAS.get(kind_name)
        if given and not set(given) <= set(kind.fields):
            continue
        mapping = {}
        for canonical in kind.fields:
            column = given.get(canonical) or next((c for c in kind.aliases[canonical] if c in columns), None)
            if column is None:
                break
            mapping[canonical] = column
        else:
            return kind_name, mapping
    raise ValueError(
        f"{where}: cannot tell which columns hold the example fields; found columns {columns}, expected "
        + " or ".join(f"{'+'.join(SCHEMAS.get(n).fields)} ({n})" for n in SCHEMAS)
        + "; pass fields=, e.g. "
        f"fields={{'text': 'sentence', 'label': 'label'}}"
    )


def schema_of(example: Mapping[str, Any]) -> str:
    """The task kind whose canonical fields ``example`` has."""
    for name in SCHEMAS:
        if set(SCHEMAS.get(name).fields) <= set(example):
            return name
    raise ValueError(
        "examples must have the fields of a task kind ("
        + "; ".join(f"{n}: {'+'.join(SCHEMAS.get(n).fields)}" for n in SCHEMAS)
        + f"), the first has {sorted(example)}"
    )


def label_index(value: Any, label_names: Sequence[str], where: str) -> int:
    """Maps a label given as an index (int or digit string) or as a name to its index in ``label_names``."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped in label_names:
            return list(label_names).index(stripped)
        if stripped.lstrip("-").isdigit():
            value = int(stripped)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(label_names):
        raise ValueError(
            f"{where}: label {value!r} is outside the label set {list(label_names)} (indices 0.."
            f"{len(label_names) - 1}); fix the data or pass label_names= listing every label"
        )
    return value


def canonical_example(row: Mapping[str, Any], mapping: Mapping[str, str], label_names: Sequence[str], where: str) -> Example:
    """``{canonical field: value}`` from a raw ``row`` and ``mapping`` (canonical field -> column).

    ``label`` becomes an index into ``label_names``; every other field is text, and a ``summary``
    whose sentences are wrapped in ``<s> ... </s>`` tags (the preprocessed CNN/DailyMail abstracts)
    becomes one sentence per line, as TFDS's highlights are: tokenizers would otherwise learn the
    tags as words (SentencePiece reserves ``<s>``/``</s>`` and maps their characters to unknown).
    """
    example = {}
    for field, column in mapping.items():
        if field == "label":
            example[field] = label_index(row[column], label_names, where)
        else:
            text = as_text(row[column], where)
            example[field] = untag_sentences(text) if field == "summary" else text
    return example


_SENTENCE_TAGS = re.compile(r"\s*<s>\s*(.*?)\s*</s>\s*", re.DOTALL)


def untag_sentences(text: str) -> str:
    """``"<s> one . </s> <s> two . </s>"`` -> ``"one .\ntwo ."``; text without tags is returned as is."""
    if "<s>" not in text:
        return text
    sentences = [" ".join(m.group(1).split()) for m in _SENTENCE_TAGS.finditer(text)]
    return "\n".join(s for s in sentences if s)


def as_text(value: Any, where: str) -> str:
    """Text field as ``str``: bytes are decoded as UTF-8 (an error names the example)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{where}: text is not valid UTF-8 ({err}); re-encode the data as UTF-8") from None
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a text field (str), found {type(value).__name__} {value!r:.80}")
    return value
