"""Built-in data sets generated from a seed, with no files: ``builtin:sentiment``, ``builtin:salient_summary``,
``builtin:salient_events``.

Both are built so that the answer depends on *where* words stand relative to each other, not only
on which words occur: a bag-of-words model sees the same bag with either answer, while a model
with attention can relate each word to its clause or sentence.

``builtin:sentiment`` (labels ``negative``/``positive``). A review is one or two clauses
``the <aspect> <verb> [<negator>] [<intensifier>] <adjective>``; a clause's polarity is its
adjective's, flipped by a negator (``not``/``never``/``hardly``; scope: its own clause only);
intensifiers (``very``, ``truly``, ...) never change it. Two clauses are joined by a contrast:
``C1 , but C2`` / ``C1 , yet C2`` -> the label is C2's polarity; ``C1 , although C2`` /
``C1 , even though C2`` -> C1's (``keep_first_rate`` of the two-clause reviews, 0.5 by default). A distractor span ``( <someone> said it was <adjective> )``
(an opinion that is not the reviewer's) is inserted with some probability at a clause boundary
and never counts. Two-clause reviews mostly pair opposite polarities, so "good ... but ... bad" and
"bad ... but ... good" have the same bag of words and opposite labels.

``builtin:salient_summary`` (document -> summary). A document is 6-12 event sentences
``at <hour> , the <agent> <verb> the <object> near the <place> .`` with distinct agents; exactly
one event is salient, marked by a cue adverb (``suddenly``, ``unexpectedly``, ...) right after its
hour, while routine events get routine adverbs (``later``, ``as usual``, ...) or none. The summary
copies the salient event's words: ``the <agent> <verb> the <object> near the <place>``. Agents,
objects and places come from generated pseudo-words (hundreds each), so the summary must be
copied from the document rather than memorized.

``builtin:salient_events`` (document -> summary; the default grid's summarization task). A
document is 5-9 event sentences ``[<cue>] the <agent> <verb> the <object> near the <place> .``
with distinct agents (256 pseudo-words; objects and places 200 each). Two events are salient;
each carries one of eight salient cue phrases (``suddenly``, ``without warning``, ``to
everyone's surprise``, ...), except with probability ``uncued_rate`` (0.2), when nothing marks it.
With probability ``hearsay_rate`` (0.5) a third event carries a salient cue inside hearsay
(``a rumour said that suddenly ...``): it did not happen and is not in the summary, so a cue word
alone does not decide. The summary is the two salient events in document order joined by
``and``. Why it is not saturated: 36% of documents (1 - 0.8^2) have an unmarked salient event that
no model can find, so the best ROUGE-1 stays well below 100 whatever the training; why it needs
both the pointer and the score: every summary word but ``and`` is a document word, and the
agents are too many and too rare to be generated from the vocabulary. ``summary_style="telegraphic"``
writes the same events as ``<agent> <verb> <object> <place>`` joined by ``;`` (the same documents):
then ROUGE gives no credit for the template words (``the``, ``near``, ``and``), which a model that
cannot copy writes anyway.

Splits are drawn from independent streams of ``numpy.random.default_rng([seed, split])``: the
same seed gives the same data on any machine.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from attnjax.data.sources import SOURCE_KINDS, Source, check_options
from attnjax.data.splits import SPLITS, ExampleSequence
from attnjax.data.schema import Example
from attnjax.registry import Registry

ASPECTS = ("plot", "acting", "music", "ending", "script", "cast", "dialogue", "pacing", "camera work", "story")
VERBS = ("was", "is", "felt", "seemed", "looked")
POSITIVE = ("good", "great", "wonderful", "brilliant", "superb", "charming", "moving", "clever", "fresh", "gripping")
NEGATIVE = ("bad", "awful", "boring", "dull", "terrible", "weak", "clumsy", "tedious", "stale", "messy")
NEGATORS = ("not", "never", "hardly")
INTENSIFIERS = ("very", "really", "truly", "extremely", "so", "quite")
KEEP_SECOND = ("but", "yet")  # "C1 , but C2": C2 decides
KEEP_FIRST = ("although", "even though")  # "C1 , although C2": C1 decides
SPEAKERS = ("my friend", "a critic", "the trailer", "my brother", "some viewers", "the poster")

DEFAULT_SIZES = {"train": 20000, "validation": 2000, "test": 2000}
_SPLIT_STREAM = {split: i for i, split in enumerate(SPLITS)}


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[rng.integers(len(words))]


def _clause(rng: np.random.Generator, polarity: int, negation_rate: float, intensifier_rate: float) -> str:
    """A clause whose polarity (+1/-1) is ``polarity``."""
    negated = rng.random() < negation_rate
    adjective_polarity = -polarity if negated else polarity
    words = ["the", _pick(rng, ASPECTS), _pick(rng, VERBS)]
    if negated:
        words.append(_pick(rng, NEGATORS))
    if rng.random() < intensifier_rate:
        words.append(_pick(rng, INTENSIFIERS))
    words.append(_pick(rng, POSITIVE if adjective_polarity > 0 else NEGATIVE))
    return " ".join(words)


def _distractor(rng: np.random.Generator) -> str:
    return f"( {_pick(rng, SPEAKERS)} said it was {_pick(rng, POSITIVE + NEGATIVE)} )"


def sentiment_example(
    rng: np.random.Generator,
    single_clause_rate: float = 0.2,
    opposite_rate: float = 0.85,
    negation_rate: float = 0.4,
    intensifier_rate: float = 0.3,
    distractor_rate: float = 0.3,
    keep_first_rate: float = 0.5,
) -> Example:
    """One ``{"text", "label"}`` review (label 1 = positive); rates as in the module docstring;
    ``keep_first_rate``: of two-clause reviews, the share whose contrast word keeps the first clause."""
    label = int(rng.integers(2))
    polarity = 1 if label else -1
    if rng.random() < single_clause_rate:
        clauses, connective = [_clause(rng, polarity, negation_rate, intensifier_rate)], None
    else:
        other = -polarity if rng.random() < opposite_rate else polarity
        keep_second = rng.random() < 1.0 - keep_first_rate  # (0.5: the draws of the original generator)
        connective = _pick(rng, KEEP_SECOND if keep_second else KEEP_FIRST)
        deciding = _clause(rng, polarity, negation_rate, intensifier_rate)
        ignored = _clause(rng, other, negation_rate, intensifier_rate)
        clauses = [ignored, deciding] if keep_second else [deciding, ignored]
    parts = [clauses[0]] + ([f", {connective} {clauses[1]}"] if connective else [])
    if rng.random() < distractor_rate:
        parts.insert(int(rng.integers(len(parts) + 1)), _distractor(rng))
    return {"text": " ".join(parts), "label": label}


def sentiment_parts(text: str) -> dict:
    """What a ``builtin:sentiment`` review is made of, read back from its text (the grammar above is
    unambiguous): ``{"decides": "only" | "first" | "second"`` (which clause holds the label: a single
    clause, ``although``/``even though``, ``but``/``yet``), ``"negated"`` (the deciding clause has a
    negator), ``"hearsay"`` (a distractor span), ``"adjective"`` (the deciding clause's)``}``."""
    hearsay = "(" in text
    plain = re.sub(r"\( [^()]* \) ?", "", text).strip()
    deciding, decides = plain, "only"
    for connective in KEEP_SECOND + KEEP_FIRST:
        marker = f" , {connective} "
        if marker in plain:
            first, second = plain.split(marker)
            deciding, decides = (second, "second") if connective in KEEP_SECOND else (first, "first")
            break
    words = deciding.split()
    return {"decides": decides, "negated": any(w in NEGATORS for w in words), "hearsay": hearsay, "adjective": words[-1]}


_SYLLABLES = ("ka", "lo", "mi", "ner", "tu", "sa", "vex", "di", "ro", "pan", "zu", "el", "bo", "quin", "ta", "mor")
HOURS = tuple(f"{h} {m}" for h in ("six", "seven", "eight", "nine", "ten", "eleven") for m in ("am", "pm"))
EVENT_VERBS = ("visited", "repaired", "painted", "sold", "inspected", "moved", "opened", "closed", "cleaned", "guarded")
SALIENT_CUES = ("suddenly", "unexpectedly", "dramatically", "urgently")
ROUTINE_CUES = ("later", "as usual", "quietly", "briefly")


def _pseudo_words(prefix: str, count: int) -> tuple[str, ...]:
    """``count`` distinct two-syllable words, deterministic, tagged by their role's first letter."""
    words = [prefix + a + b for a in _SYLLABLES for b in _SYLLABLES]
    return tuple(words[:count])


AGENTS = _pseudo_words("a", 200)
OBJECTS = _pseudo_words("o", 200)
PLACES = _pseudo_words("p", 200)


def salient_summary_example(rng: np.random.Generator, min_events: int = 6, max_events: int = 12, routine_cue_rate: float = 0.5) -> Example:
    """One ``{"document", "summary"}`` pair (see the module docstring)."""
    num_events = int(rng.integers(min_events, max_events + 1))
    agents = rng.choice(len(AGENTS), num_events, replace=False)
    salient = int(rng.integers(num_events))
    sentences, summary = [], ""
    for i, agent in enumerate(agents):
        event = f"the {AGENTS[agent]} {_pick(rng, EVENT_VERBS)} the {_pick(rng, OBJECTS)} near the {_pick(rng, PLACES)}"
        if i == salient:
            cue, summary = _pick(rng, SALIENT_CUES), event
        else:
            cue = _pick(rng, ROUTINE_CUES) if rng.random() < routine_cue_rate else ""
        sentences.append(" ".join(w for w in ("at", _pick(rng, HOURS), ",", cue, event, ".") if w))
    return {"document": " ".join(sentences), "summary": summary}


# --- several salient events: the grid's summarization probe ----------------------------------

MANY_AGENTS = _pseudo_words("a", 256)
EVENT_SALIENT_CUES = (
    "suddenly", "unexpectedly", "dramatically", "urgently", "abruptly", "without warning", "to everyone's surprise",
    "in a sudden move",
)
EVENT_ROUTINE_CUES = ("later", "as usual", "quietly", "briefly", "as planned", "as every day", "calmly", "slowly")
HEARSAY = ("someone claimed that", "a rumour said that", "it was wrongly reported that")


def _event_clause(words: tuple[str, str, str, str]) -> str:
    """(agent, verb, object, place) -> ``the <agent> <verb> the <object> near the <place>``."""
    return "the {} {} the {} near the {}".format(*words)


# How a salient_events summary writes its events: (one event's words -> text, the joint between events).
SUMMARY_STYLES = {
    # "the <agent> <verb> the <object> near the <place> and the ...": 9 of its 17 words are the template.
    "sentence": (_event_clause, " and "),
    # "<agent> <verb> <object> <place> ; ...": the content words alone, headline style, so ROUGE gives
    # a model that cannot copy no credit for writing the template.
    "telegraphic": (" ".join, " ; "),
}


def salient_events_example(
    rng: np.random.Generator,
    min_events: int = 5,
    max_events: int = 9,
    num_salient: int = 2,
    hearsay_rate: float = 0.5,
    routine_cue_rate: float = 0.6,
    uncued_rate: float = 0.2,
    summary_style: str = "sentence",
) -> Example:
    """One ``{"document", "summary"}`` pair with ``num_salient`` salient events (module docstring).

    A salient event carries a salient cue, except with probability ``uncued_rate``: then nothing
    in the document marks it, so no model can find it and the best ROUGE stays well below 100.
    ``summary_style`` (:data:`SUMMARY_STYLES`) changes only how the summary is written, never the
    document or which events it holds.
    """
    if summary_style not in SUMMARY_STYLES:
        raise ValueError(
            f"summary_style={summary_style!r} is not a salient_events summary style; expected one of: "
            f"{', '.join(SUMMARY_STYLES)}"
        )
    write_event, joint = SUMMARY_STYLES[summary_style]
    num_events = int(rng.integers(min_events, max_events + 1))
    agents = rng.choice(len(MANY_AGENTS), num_events, replace=False)
    salient = set(int(i) for i in rng.choice(num_events, num_salient, replace=False))
    # A hearsay event carries a salient cue but is not an event that happened: a distractor that
    # only a model reading the words before the cue can reject.
    hearsay = -1
    if rng.random() < hearsay_rate:
        hearsay = int(rng.choice([i for i in range(num_events) if i not in salient]))
    sentences, summary = [], []
    for i, agent in enumerate(agents):
        words = (MANY_AGENTS[agent], _pick(rng, EVENT_VERBS), _pick(rng, OBJECTS), _pick(rng, PLACES))
        event = _event_clause(words)
        if i in salient:
            cue = _pick(rng, EVENT_SALIENT_CUES) if rng.random() >= uncued_rate else ""
            summary.append(write_event(words))
        elif i == hearsay:
            cue = f"{_pick(rng, HEARSAY)} {_pick(rng, EVENT_SALIENT_CUES)}"
        else:
            cue = _pick(rng, EVENT_ROUTINE_CUES) if rng.random() < routine_cue_rate else ""
        sentences.append(" ".join(w for w in (cue, event, ".") if w))
    return {"document": " ".join(sentences), "summary": joint.join(summary)}


@dataclass(frozen=True)
class BuiltinDataset:
    """A generated data set: its record schema, ``make(rng, **options) -> example`` and label names."""

    schema: str
    make: Callable[..., Example]
    label_names: tuple[str, ...] = ()


BUILTIN_DATASETS: Registry[BuiltinDataset] = Registry("built-in data set")
BUILTIN_DATASETS.register("sentiment", BuiltinDataset("classification", sentiment_example, ("negative", "positive")))
BUILTIN_DATASETS.register("salient_summary", BuiltinDataset("summarization", salient_summary_example))
BUILTIN_DATASETS.register("salient_events", BuiltinDataset("summarization", salient_events_example))


def generate(task: str, split: str, num_examples: int, seed: int = 0, **options) -> list[Example]:
    """``num_examples`` examples of built-in ``task`` for ``split``, a pure function of its arguments
    (so a repeated call returns copies of the examples this process generated before)."""
    BUILTIN_DATASETS.get(task)  # an unknown task fails here, naming the known ones
    if split not in _SPLIT_STREAM:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    frozen = tuple(sorted(options.items()))
    try:
        hash(frozen)
    except TypeError:  # an unhashable option value: generate without keeping the split
        examples = _generated.__wrapped__(task, split, num_examples, seed, frozen)
    else:
        examples = _generated(task, split, num_examples, seed, frozen)
    return [dict(e) for e in examples]  # callers may change their examples, never the kept ones


# A grid's worker process trains run after run on the same built-in data: each run generated its
# splits (20,000 reviews take about 0.5 s) and its attention maps the test split again.
@functools.lru_cache(maxsize=8)
def _generated(task: str, split: str, num_examples: int, seed: int, options: tuple) -> tuple[Example, ...]:
    make = BUILTIN_DATASETS.get(task).make
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
    return tuple(make(rng, **dict(options)) for _ in range(num_examples))


@SOURCE_KINDS.register("builtin")
def builtin_source(task: str, *, seed: int = 0, num_examples: Optional[dict] = None, **options) -> Source:
    """``builtin:<task>``; ``num_examples`` per split (default ``DEFAULT_SIZES``), ``options`` to the generator."""
    dataset = BUILTIN_DATASETS.get(task)
    make = dataset.make
    check_options(f"builtin:{task}", make, options, skip=1)
    sizes = {**DEFAULT_SIZES, **(num_examples or {})}
    unknown = set(sizes) - set(SPLITS)
    if unknown:
        raise ValueError(f"num_examples has unknown splits {sorted(unknown)}; expected keys among {SPLITS}")

    def reader(split: str):
        return lambda: ExampleSequence(generate(task, split, sizes[split], seed, **options))

    return Source(
        name=f"builtin:{task}", task=dataset.schema, readers={s: reader(s) for s in SPLITS}, label_names=dataset.label_names
    )
