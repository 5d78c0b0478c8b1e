"""Tokenizers: SentencePiece (trained on the training split), byte-level, word-level.

All share the special ids ``pad_id = 0``, ``bos_id = 1``, ``eos_id = 2`` (and ``unk_id = 3`` where a
vocabulary can miss), so padded batches and masks do not depend on the kind. ``save(dir)`` writes
``tokenizer.json`` (kind, normalization, settings) plus the kind's own files; :func:`load_tokenizer`
restores any kind from that directory, which is how a checkpointed run gets its tokenizer back.
"""

from __future__ import annotations

import collections
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from attnjax.registry import Registry

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
CONFIG_FILE = "tokenizer.json"
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Normalizer:
    """Text normalization applied before training and encoding.

    ``strip_html`` turns HTML line breaks (``<br />``, as in IMDB) into spaces; ``lower`` lower-cases.
    """

    lower: bool = False
    strip_html: bool = False

    def __call__(self, text: str) -> str:
        if self.strip_html:
            text = _HTML_BREAK.sub(" ", text)
        if self.lower:
            text = text.lower()
        return text


class Tokenizer:
    """Common interface: ``encode(str) -> list[int]``, ``decode(ids) -> str``, ``save``/``load``.

    Subclasses set ``kind`` and implement ``_encode_normalized``, ``decode``, ``vocab_size``,
    ``_settings`` / ``_save_files`` and ``_from_dir``.
    """

    kind: str = ""
    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID

    def __init__(self, normalizer: Normalizer = Normalizer()):
        self.normalizer = normalizer

    @property
    def vocab_size(self) -> int:
        raise AttributeError(f"{type(self).__name__} must define vocab_size")

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (normalized first), without bos/eos."""
        return self._encode_normalized([self.normalizer(text)])[0].tolist()

    def encode_batch(self, texts: Sequence[str], max_length: Optional[int] = None) -> list[np.ndarray]:
        """``encode`` for many texts at once, as int32 arrays (the fast path used by batching).

        With ``max_length``, each result is the first ``max_length`` ids of the full encoding. Long
        texts are encoded from a prefix cut at a space: no token of any kind here spans a space
        (SentencePiece splits by whitespace, and its best path up to a space does not depend on
        what follows), so the prefix's ids are the full text's first ids; a prefix that yields too
        few ids is encoded again whole, so the result is exact either way.
        """
        texts = [self.normalizer(t) for t in texts]
        if max_length is None:
            return self._encode_normalized(texts)
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1 (or None for no truncation), got {max_length}")
        budget = self._prefix_budget(texts, max_length)
        cuts = [t.rfind(" ", 0, budget) if len(t) > budget else -1 for t in texts]
        prefixes = [t if cut <= 0 else t[:cut] for t, cut in zip(texts, cuts)]
        encoded = self._encode_normalized(prefixes, max_length)
        redo = [i for i, (ids, p, t) in enumerate(zip(encoded, prefixes, texts)) if len(ids) < max_length and p is not t]
        for i, ids in zip(redo, self._encode_normalized([texts[i] for i in redo], max_length)):
            encoded[i] = ids
        return encoded

    # Most characters kept per wanted token before a text is cut for truncated encoding.
    _chars_per_token_bound: int = 8

    def _prefix_budget(self, texts: list[str], max_length: int) -> int:
        """Characters to keep so that a prefix very likely still holds ``max_length`` ids.

        Large batches estimate characters per id on a 64-text sample (x1.25 margin); a wrong
        guess only costs a re-encode, never a different result.
        """
        per_token = float(self._chars_per_token_bound)
        if len(texts) >= 1024:
            sample = texts[:: len(texts) // 64][:64]
            ids = sum(len(x) for x in self._encode_normalized(sample))
            per_token = min(per_token, 1.25 * sum(len(t) for t in sample) / max(ids, 1))
        return int(per_token * max_length) + 16

    def _encode_normalized(self, texts: list[str], max_length: Optional[int] = None) -> list[np.ndarray]:
        """Ids of already normalized ``texts``, each cut to ``max_length`` when given."""
        raise AttributeError(f"{type(self).__name__} must define _encode_normalized")

    def decode(self, ids: Iterable[int]) -> str:
        raise AttributeError(f"{type(self).__name__} must define decode")

    def _settings(self) -> dict:
        return {}

    def _save_files(self, directory: Path) -> None:
        """Writes the kind's own files (vocabulary, model) into ``directory``."""

    def save(self, directory) -> Path:
        """Writes the tokenizer into ``directory`` (created if missing); returns the directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_files(directory)
        config = {"kind": self.kind, "normalizer": asdict(self.normalizer), "settings": self._settings()}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return directory

    @staticmethod
    def load(directory) -> "Tokenizer":
        return load_tokenizer(directory)


TOKENIZERS: Registry[type] = Registry("tokenizer kind")


@TOKENIZERS.register("byte")
class ByteTokenizer(Tokenizer):
    """UTF-8 bytes shifted past the specials: id = byte + 3; vocabulary 259, nothing to train."""

    kind = "byte"
    _OFFSET = 3

    @classmethod
    def train(cls, texts: Iterable[str] = (), normalizer: Normalizer = Normalizer()) -> "ByteTokenizer":
        return cls(normalizer)

    @property
    def vocab_size(self) -> int:
        return 256 + self._OFFSET

    _chars_per_token_bound = 2  # a character is at least one byte; 2x leaves room to cut at a space

    def _encode_normalized(self, texts: list[str], max_length: Optional[int] = None) -> list[np.ndarray]:
        return [np.frombuffer(t.encode("utf-8"), np.uint8)[:max_length].astype(np.int32) + self._OFFSET for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(i - self._OFFSET for i in ids if self._OFFSET <= i < self.vocab_size).decode("utf-8", errors="replace")

    @classmethod
    def _from_dir(cls, directory: Path, normalizer: Normalizer, settings: dict) -> "ByteTokenizer":
        return cls(normalizer)


class _Vocabulary(dict):
    """word -> id; unknown words read as ``UNK_ID`` (without being added)."""

    def __missing__(self, word: str) -> int:
        return UNK_ID


@TOKENIZERS.register("word")
class WordTokenizer(Tokenizer):
    """Words and punctuation marks (regex ``\\w+|[^\\w\\s]``) looked up in a frequency-ranked vocabulary."""

    kind = "word"
    unk_id = UNK_ID
    _SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")

    def __init__(self, words: Sequence[str], normalizer: Normalizer = Normalizer()):
        super().__init__(normalizer)
        self.words = list(self._SPECIALS) + [w for w in words if w not in self._SPECIALS]
        self._ids = _Vocabulary((w, i) for i, w in enumerate(self.words))

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        normalizer: Normalizer = Normalizer(),
        vocab_size: int = 32000,
        min_count: int = 1,
    ) -> "WordTokenizer":
        """Keeps the ``vocab_size - 4`` most frequent words seen ``>= min_count`` times (ties: alphabetical)."""
        if vocab_size <= len(cls._SPECIALS):
            raise ValueError(f"vocab_size must exceed the {len(cls._SPECIALS)} special tokens, got {vocab_size}")
        counts = collections.Counter()
        for text in texts:
            counts.update(_WORD.findall(normalizer(text)))
        if not counts:
            raise ValueError("cannot train a word vocabulary on no text; pass the training split's texts")
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(ranked[: vocab_size - len(cls._SPECIALS)], normalizer)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def _encode_normalized(self, texts: list[str], max_length: Optional[int] = None) -> list[np.ndarray]:
        lookup, find = self._ids.__getitem__, _WORD.findall
        return [np.array(list(map(lookup, find(t)[:max_length])), np.int32) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.words[i] for i in ids if i >= len(self._SPECIALS) or i == UNK_ID)

    def _save_files(self, directory: Path) -> None:
        (directory / "vocab.txt").write_text("\n".join(self.words[len(self._SPECIALS):]) + "\n", encoding="utf-8")

    @classmethod
    def _from_dir(cls, directory: Path, normalizer: Normalizer, settings: dict) -> "WordTokenizer":
        words = (directory / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
        return cls(words, normalizer)


@TOKENIZERS.register("sentencepiece")
class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece model (unigram or BPE) trained on the training split's texts."""

    kind = "sentencepiece"
    unk_id = UNK_ID
    MODEL_FILE = "spm.model"

    def __init__(self, model_proto: bytes, normalizer: Normalizer = Normalizer(), num_threads: int = 2):
        import sentencepiece as spm

        super().__init__(normalizer)
        self.model_proto = model_proto
        self.num_threads = num_threads
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        normalizer: Normalizer = Normalizer(),
        vocab_size: int = 8000,
        model_type: str = "unigram",
        max_sentences: int = 20000,
        character_coverage: float = 0.9995,
        seed_sentencepiece_size: int = 200000,
        num_threads: int = 2,
    ) -> "SentencePieceTokenizer":
        """Trains on at most ``max_sentences`` texts (taken in order; pass a shuffled sample for a subset)."""
        import io

        import sentencepiece as spm

        sample = [normalizer(t) for t, _ in zip(texts, range(max_sentences))]
        if not sample:
            raise ValueError("cannot train SentencePiece on no text; pass the training split's texts")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sample),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                pad_id=PAD_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                unk_id=UNK_ID,
                character_coverage=character_coverage,
                seed_sentencepiece_size=seed_sentencepiece_size,
                max_sentence_length=1 << 16,
                num_threads=num_threads,
                minloglevel=2,
            )
        except RuntimeError as err:
            raise ValueError(
                f"SentencePiece training failed on {len(sample)} texts with vocab_size={vocab_size}: {err}; "
                f"lower vocab_size or give more text"
            ) from None
        return cls(model.getvalue(), normalizer, num_threads)

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def _encode_normalized(self, texts: list[str], max_length: Optional[int] = None) -> list[np.ndarray]:
        return [np.asarray(ids[:max_length], np.int32) for ids in self._sp.encode(texts, num_threads=self.num_threads)]

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID)])

    def _settings(self) -> dict:
        return {"num_threads": self.num_threads}

    def _save_files(self, directory: Path) -> None:
        (directory / self.MODEL_FILE).write_bytes(self.model_proto)

    @classmethod
    def _from_dir(cls, directory: Path, normalizer: Normalizer, settings: dict) -> "SentencePieceTokenizer":
        return cls((directory / cls.MODEL_FILE).read_bytes(), normalizer, settings.get("num_threads", 2))


def train_tokenizer(kind: str, texts: Iterable[str], *, lower: bool = False, strip_html: bool = False, **options) -> Tokenizer:
    """Trains a tokenizer of ``kind`` (``sentencepiece``, ``byte``, ``word``) on ``texts``."""
    return TOKENIZERS.get(kind).train(texts, Normalizer(lower=lower, strip_html=strip_html), **options)


def load_tokenizer(directory) -> Tokenizer:
    """Restores a tokenizer saved with ``Tokenizer.save(directory)``."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise FileNotFoundError(
            f"no tokenizer in {str(directory)!r}: expected {CONFIG_FILE} there; save one with tokenizer.save(dir) "
            f"or train one with train_tokenizer(kind, texts)"
        )
    config = json.loads(config_path.read_text())
    return TOKENIZERS.get(config["kind"])._from_dir(directory, Normalizer(**config["normalizer"]), config["settings"])


def load_or_train_tokenizer(directory, kind: str, texts: Iterable[str], **options) -> Tokenizer:
    """The tokenizer saved in ``directory``; trained on ``texts`` and saved there first when absent.

    Keeping it beside the run's checkpoints means a resumed run encodes exactly as before.
    """
    if (Path(directory) / CONFIG_FILE).is_file():
        tokenizer = load_tokenizer(directory)
        if tokenizer.kind != kind:
            raise ValueError(
                f"{directory} holds a {tokenizer.kind!r} tokenizer but {kind!r} was asked; use another directory "
                f"or ask for {tokenizer.kind!r}"
            )
        return tokenizer
    tokenizer = train_tokenizer(kind, texts, **options)
    tokenizer.save(directory)
    return tokenizer
