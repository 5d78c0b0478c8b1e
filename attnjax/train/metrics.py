"""Evaluation metrics on the host: classification scores, weighted means and perplexity, ROUGE,
repeated n-grams.

Everything is numpy and plain Python; jax arrays are accepted (``np.asarray`` brings them to the
host). The one-shot functions score a whole split at once; the accumulators take it a batch at a
time and give the same numbers:

>>> scores = ClassificationMetrics(num_classes=2)
>>> scores.update(predictions, labels, mask)  # per batch: [batch] class ids; mask 0 rows are padding
>>> scores.result()                           # {"accuracy", "macro_f1", "count"}
>>> rouge(["the cat sat ."], ["<s> the cat sat on the mat . </s>"])  # mean F-measures x 100
>>> repeated_ngram_rate(["a b c a b c"])                                 # 0.25: 1 of 4 trigrams repeats

The one-shot functions raise ``ValueError`` when there is nothing to score; an accumulator that
saw nothing returns NaN scores (an evaluation with no examples is then visible, not fatal).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Optional, Sequence

import numpy as np
from rouge_score import rouge_scorer

# --- classification ------------------------------------------------------------------------------


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
    return int(num_classes)


def _class_ids(predictions, labels, mask) -> tuple[np.ndarray, np.ndarray]:
    """The kept ``(predictions, labels)``, flattened to int64 ``[kept]``."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    for name, value in (("predictions", predictions), ("labels", labels)):
        if value.dtype.kind not in "iu" and value.size:  # np.asarray([]) is float64: let [] through
            raise ValueError(f"{name} must hold integer class ids, got dtype {value.dtype}")
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions and labels must have the same shape, got {predictions.shape} and {labels.shape}"
        )
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != labels.shape:
            raise ValueError(f"mask must have the labels' shape {labels.shape}, got shape {mask.shape}")
        keep = mask != 0
        predictions, labels = predictions[keep], labels[keep]
    return predictions.reshape(-1).astype(np.int64), labels.reshape(-1).astype(np.int64)


def confusion_matrix(predictions, labels, num_classes: int, mask=None) -> np.ndarray:
    """Counts ``[num_classes (true), num_classes (predicted)]``, int64.

    ``predictions`` and ``labels`` are integer class ids of one shape (e.g. ``[batch]``); rows where
    ``mask`` (same shape) is 0 are ignored, so padding rows may hold any value (-1 included).
    """
    num_classes = _check_num_classes(num_classes)
    predictions, labels = _class_ids(predictions, labels, mask)
    for name, value in (("predictions", predictions), ("labels", labels)):
        bad = (value < 0) | (value >= num_classes)
        if bad.any():
            raise ValueError(
                f"{name} must be class ids in [0, {num_classes}) where mask is nonzero, got {value[bad][0]}"
            )
    counts = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else math.nan


def _macro_f1(confusion: np.ndarray) -> float:
    # sklearn's default: only classes that occur among the labels or the predictions are averaged
    # (F1 = 2TP / (2TP + FP + FN) is 0/0 for the others).
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    present = denominator > 0
    return float(np.mean(2 * tp[present] / denominator[present])) if present.any() else math.nan


def _require_examples(count) -> None:
    if not count:
        raise ValueError("no examples to score: predictions is empty or mask is 0 everywhere")


def accuracy(predictions, labels, mask=None) -> float:
    """Fraction of kept rows where ``predictions == labels`` (integer ids of one shape; rows where
    ``mask`` is 0 are ignored)."""
    predictions, labels = _class_ids(predictions, labels, mask)
    _require_examples(labels.size)
    return float(np.mean(predictions == labels))


def macro_f1(predictions, labels, num_classes: int, mask=None) -> float:
    """Unweighted mean over classes of ``F1 = 2TP / (2TP + FP + FN)``.

    A class with neither labels nor predictions among the kept rows is left out of the mean (as
    sklearn's ``f1_score(average="macro")`` does); a class that occurs but is never predicted
    correctly counts with F1 = 0. Arguments as in :func:`confusion_matrix`.
    """
    confusion = confusion_matrix(predictions, labels, num_classes, mask)
    _require_examples(confusion.sum())
    return _macro_f1(confusion)


class ClassificationMetrics:
    """Accuracy and macro F1 accumulated over batches (a running confusion matrix).

    ``result()`` equals :func:`accuracy` / :func:`macro_f1` on all updates concatenated; with no
    examples yet its scores are NaN.
    """

    def __init__(self, num_classes: int):
        self.num_classes = _check_num_classes(num_classes)
        self._confusion = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, predictions, labels, mask=None) -> None:
        """Adds a batch; arguments as in :func:`confusion_matrix`."""
        self._confusion += confusion_matrix(predictions, labels, self.num_classes, mask)

    @property
    def count(self) -> int:
        return int(self._confusion.sum())

    @property
    def confusion_matrix(self) -> np.ndarray:
        """``[num_classes (true), num_classes (predicted)]`` counts so far (a copy)."""
        return self._confusion.copy()

    def result(self) -> dict:
        confusion = self._confusion
        return {"accuracy": _accuracy(confusion), "macro_f1": _macro_f1(confusion), "count": self.count}


# --- means and perplexity ------------------------------------------------------------------------


def _scalar(name: str, value) -> float:
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real scalar, got {type(value).__name__} with shape {array.shape}")
    return float(array)


class MeanAccumulator:
    """A weighted mean over batches: ``sum(total) / sum(weight)``.

    ``update(total, weight)`` adds one batch's sum and its weight, e.g. the summed token losses of
    a batch and its number of real tokens, so batches of different sizes weigh what they hold.
    ``result()`` is NaN while the weight is 0.
    """

    def __init__(self):
        self.total = 0.0
        self.weight = 0.0

    def update(self, total, weight=1.0) -> None:
        weight = _scalar("weight", weight)
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"weight must be finite and >= 0, got {weight}")
        self.total += _scalar("total", total)
        self.weight += weight

    def result(self) -> float:
        return self.total / self.weight if self.weight else math.nan


# exp() overflows float64 above ~709.78; a loss this large already means the model is broken, so
# the clip only keeps the logged number finite (and JSON-serialisable).
MAX_LOG_PERPLEXITY = 700.0


def perplexity(mean_token_loss) -> float:
    """``exp(mean_token_loss)`` (nats per token), the loss clipped at :data:`MAX_LOG_PERPLEXITY`.

    NaN stays NaN, so a diverged run still shows as one.
    """
    loss = _scalar("mean_token_loss", mean_token_loss)
    return math.nan if math.isnan(loss) else math.exp(min(loss, MAX_LOG_PERPLEXITY))


# --- sentences -----------------------------------------------------------------------------------

# <s> / </s> sentence tags (CNN/DailyMail's preprocessed abstracts), also as a word-level
# tokenizer decodes them ("< s >", "< / s >"), so a model trained on tagged targets is scored
# on its sentences, not on stray "s" words.
_SENTENCE_TAG = re.compile(r"<\s*/?\s*s\s*>")
# A sentence ends at a run of . ! ? with any closing quotes or brackets stuck to it (or, in PTB
# tokenization, a separate closing quote ''), when whitespace and more text follow. The closers are
# taken all or nothing (an atomic group spelled as a lookahead, for Python 3.10), so a closer that
# ends a line never becomes a sentence of its own.
_BOUNDARY = re.compile(r"""[.!?]+(?=((?:['"\u2019\u201d)\]]+|\s+'')*))\1(?=\s+\S)""")
# A period after one of these (or after single letters: "j.", "u.s.", "l.l.") is not a sentence end.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen gov sen rep rev lt col sgt capt st vs "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DOTTED = re.compile(r"(?:[a-z]\.)*[a-z]")


def _is_abbreviation(line: str, boundary: re.Match) -> bool:
    if boundary.group() != ".":
        return False
    before = line[: boundary.start()]
    if not before or before[-1].isspace():  # a period standing alone ends a PTB-tokenized sentence
        return False
    word = before.split()[-1].lower().lstrip("(['\"`\u2018\u201c")
    return word in _ABBREVIATIONS or bool(_DOTTED.fullmatch(word))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each with its whitespace collapsed to single spaces.

    Text with ``<s> ... </s>`` tags (CNN/DailyMail abstracts) is split at the tags, which are
    dropped. Other text is split at line breaks and after ``.``, ``!`` or ``?`` (with any closing
    quotes or brackets) followed by whitespace -- a regex, not a trained splitter (nltk's punkt
    needs a download): a period after a title (``mr.``, ``dr.``, ``sen.``), a month (``jan.``) or
    single letters (``j.``, ``u.s.``) does not end a sentence, other abbreviations (``inc.``) do.
    PTB-tokenized text (`` . `` as its own token) splits the same way.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if _SENTENCE_TAG.search(text):
        pieces = _SENTENCE_TAG.split(text)
    else:
        pieces = []
        for line in text.splitlines():
            start = 0
            for boundary in _BOUNDARY.finditer(line):
                if not _is_abbreviation(line, boundary):
                    pieces.append(line[start : boundary.end()])
                    start = boundary.end()
            pieces.append(line[start:])
    return [sentence for sentence in (" ".join(piece.split()) for piece in pieces) if sentence]


def sentences_to_lines(text: str) -> str:
    """:func:`split_sentences` joined by newlines: the form ROUGE-Lsum expects."""
    return "\n".join(split_sentences(text))


# --- ROUGE ---------------------------------------------------------------------------------------

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@functools.lru_cache(maxsize=1)
def _scorer() -> rouge_scorer.RougeScorer:
    # Porter stemming as ROUGE-1.5.5's -m; rouge-score lower-cases and keeps only [a-z0-9] tokens.
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def _texts(name: str, texts) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of strings, got a single {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{name}[{i}] must be a str, got {type(text).__name__}")
    return texts


class RougeMetrics:
    """Mean ROUGE F-measures (x 100) accumulated over batches of ``(predictions, references)``.

    Each text goes through :func:`sentences_to_lines` first, so ``<s>`` tags never count as words
    and ROUGE-Lsum sees one sentence per line. ``result()`` equals :func:`rouge` on all updates
    concatenated; with no pairs yet its scores are NaN.
    """

    def __init__(self):
        self._sums = dict.fromkeys(ROUGE_TYPES, 0.0)
        self.count = 0

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> list[dict]:
        """Adds the pairs; returns each pair's ROUGE F-measures (x 100) for per-example analysis."""
        predictions, references = _texts("predictions", predictions), _texts("references", references)
        if len(predictions) != len(references):
            raise ValueError(
                f"predictions and references must have the same length, got {len(predictions)} and "
                f"{len(references)}"
            )
        scorer = _scorer()
        per_pair = []
        for prediction, reference in zip(predictions, references):
            # rouge-score takes the reference first; ROUGE-Lsum is not symmetric.
            scores = scorer.score(sentences_to_lines(reference), sentences_to_lines(prediction))
            for name in ROUGE_TYPES:
                self._sums[name] += scores[name].fmeasure
            per_pair.append({name: 100 * scores[name].fmeasure for name in ROUGE_TYPES})
        self.count += len(predictions)
        return per_pair

    def result(self) -> dict:
        return {name: 100 * total / self.count if self.count else math.nan for name, total in self._sums.items()}


# --- repetition -----------------------------------------------------------------------------------


def ngram_repeats(text: str, n: int = 3) -> tuple[int, int]:
    """``(repeated, total)``: how many of the ``total`` n-grams of ``text`` repeat an earlier one.

    Words are ``text``'s whitespace-separated tokens, lower-cased, with ``<s> ... </s>`` sentence
    tags dropped (:func:`split_sentences`); n-grams run across sentence ends, as decoding's n-gram
    blocking does. ``"a b c a b c"`` has 4 trigrams, of which 1 (the second ``a b c``) repeats.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is not allowed; expected a positive integer (3 for trigrams)")
    words = " ".join(split_sentences(text)).lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(grams) - len(set(grams)), len(grams)


def repeated_ngram_rate(texts: Sequence[str], n: int = 3) -> float:
    """The share (0 to 1) of the n-grams of ``texts`` that repeat an earlier n-gram of the same text.

    Pooled over the texts (repeats over n-grams, see :func:`ngram_repeats`), so long outputs weigh
    more; 0.0 when no text repeats an n-gram, including when none has ``n`` words. Reported for
    summaries with ``n=3`` as ``repeated_trigrams``: what trigram blocking brings to 0.
    """
    repeated = total = 0
    for text in _texts("texts", texts):
        r, t = ngram_repeats(text, n)
        repeated, total = repeated + r, total + t
    return repeated / total if total else 0.0


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict:
    """Mean ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures x 100, Porter-stemmed.

    ``predictions[i]`` is scored against ``references[i]``; both may be plain text or hold
    ``<s> ... </s>`` sentence tags (see :class:`RougeMetrics`). The mean is a plain average over
    pairs (no bootstrap). Returns ``{"rouge1", "rouge2", "rougeL", "rougeLsum"}`` floats.
    """
    metrics = RougeMetrics()
    metrics.update(predictions, references)
    if not metrics.count:
        raise ValueError("predictions and references are empty; expected at least one pair")
    return metrics.result()
