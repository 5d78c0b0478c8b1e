"""attnjax.train.metrics and attnjax.train.baselines: hand-computed scores, ROUGE, streaming == one-shot."""

import gzip
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnjax.train import baselines, metrics

# --- classification ------------------------------------------------------------------------------

# Per class (TP, FP, FN): 0 -> (1, 1, 1), F1 1/2; 1 -> (2, 1, 0), F1 4/5; 2 -> (1, 0, 1), F1 2/3;
# class 3 never occurs and is left out of the mean.
PREDICTIONS = np.array([0, 1, 1, 1, 2, 0])
LABELS = np.array([0, 0, 1, 1, 2, 2])
MACRO_F1 = (1 / 2 + 4 / 5 + 2 / 3) / 3


def test_accuracy_and_macro_f1_by_hand():
    assert metrics.accuracy(PREDICTIONS, LABELS) == pytest.approx(4 / 6)
    assert metrics.macro_f1(PREDICTIONS, LABELS, num_classes=3) == pytest.approx(MACRO_F1)
    assert metrics.macro_f1(PREDICTIONS, LABELS, num_classes=4) == pytest.approx(MACRO_F1)  # absent class skipped
    np.testing.assert_array_equal(
        metrics.confusion_matrix(PREDICTIONS, LABELS, 3), [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    )


def test_macro_f1_counts_missed_and_spurious_classes_as_zero():
    # Class 1 has a label but no correct prediction: F1 0 (class 0: TP 2, FP 1 -> 4/5).
    assert metrics.macro_f1([0, 0, 0], [0, 0, 1], num_classes=2) == pytest.approx((4 / 5 + 0) / 2)
    # Class 1 is predicted but never a label: F1 0 too (sklearn gives 1/3 here as well).
    assert metrics.macro_f1([0, 1], [0, 0], num_classes=2) == pytest.approx((2 / 3 + 0) / 2)


def test_mask_drops_padding_rows_whatever_they_hold():
    predictions = np.array([0, 1, 2, 2, 1, 0])
    labels = np.array([0, 2, 2, 2, 1, -1])  # the last row pads a short batch
    mask = np.array([1, 1, 1, 0, 1, 0])
    assert metrics.accuracy(predictions, labels, mask) == pytest.approx(3 / 4)
    # Kept: (0,0) (1,2) (2,2) (1,1): class 0 -> 1; class 1 -> TP 1, FP 1 -> 2/3; class 2 -> TP 1, FN 1 -> 2/3.
    assert metrics.macro_f1(predictions, labels, 3, mask) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    scores = metrics.ClassificationMetrics(3)
    scores.update(predictions, labels, mask.astype(bool))
    assert scores.result()["count"] == 4


def test_accepts_jax_arrays():
    import jax.numpy as jnp

    assert metrics.accuracy(jnp.asarray(PREDICTIONS), jnp.asarray(LABELS)) == pytest.approx(4 / 6)
    assert metrics.perplexity(jnp.float32(0.0)) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: metrics.accuracy([0, 1], [0, 1, 1]), r"same shape, got \(2,\) and \(3,\)"),
        (lambda: metrics.accuracy([0.0, 1.0], [0, 1]), "predictions must hold integer class ids, got dtype float"),
        (lambda: metrics.accuracy([0, 1], [0, 1], mask=[1]), r"mask must have .* got shape \(1,\)"),
        (lambda: metrics.accuracy([0, 1], [0, 1], mask=[0, 0]), "no examples"),
        (lambda: metrics.accuracy([], []), "no examples"),
        (lambda: metrics.macro_f1([0, 3], [0, 1], 3), r"predictions must be class ids in \[0, 3\) .* got 3"),
        (lambda: metrics.macro_f1([0, 1], [0, -1], 3), r"labels must be class ids .* got -1"),
        (lambda: metrics.macro_f1(np.zeros(0, int), np.zeros(0, int), 3), "no examples"),
        (lambda: metrics.ClassificationMetrics(0), "num_classes must be an int >= 1, got 0"),
        (lambda: metrics.ClassificationMetrics(True), "num_classes must be an int >= 1, got True"),
    ],
)
def test_classification_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _reference_scores(predictions, labels, num_classes):
    """Accuracy and macro F1 the slow way, one class at a time."""
    pairs = list(zip(predictions.tolist(), labels.tolist()))
    f1s = []
    for c in range(num_classes):
        tp = sum(p == c and t == c for p, t in pairs)
        fp = sum(p == c and t != c for p, t in pairs)
        fn = sum(p != c and t == c for p, t in pairs)
        if tp + fp + fn:
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(p == t for p, t in pairs) / len(pairs), sum(f1s) / len(f1s)


@st.composite
def classification_batches(draw):
    num_classes = draw(st.integers(1, 5))
    n = draw(st.integers(0, 40))
    ids = st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n)
    predictions, labels = np.array(draw(ids), np.int32), np.array(draw(ids), np.int64)
    mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return num_classes, predictions, labels, mask, cuts


@given(classification_batches())
def test_streaming_classification_equals_one_shot(case):
    num_classes, predictions, labels, mask, cuts = case
    scores = metrics.ClassificationMetrics(num_classes)
    for p, t, m in zip(*(np.split(a, cuts) for a in (predictions, labels, mask))):
        scores.update(p, t, m)
    result = scores.result()
    assert result["count"] == mask.sum() == scores.confusion_matrix.sum()
    if not mask.any():
        assert math.isnan(result["accuracy"]) and math.isnan(result["macro_f1"])
        return
    expected_accuracy, expected_f1 = _reference_scores(predictions[mask], labels[mask], num_classes)
    assert result["accuracy"] == pytest.approx(expected_accuracy)
    assert result["macro_f1"] == pytest.approx(expected_f1)
    assert metrics.accuracy(predictions, labels, mask) == pytest.approx(expected_accuracy)
    assert metrics.macro_f1(predictions, labels, num_classes, mask) == pytest.approx(expected_f1)


# --- means and perplexity ------------------------------------------------------------------------


@given(st.lists(st.lists(st.floats(0, 10), max_size=6), max_size=5))
def test_mean_accumulator_is_the_weighted_mean(batches):
    losses = metrics.MeanAccumulator()
    for batch in batches:
        losses.update(np.sum(batch), len(batch))
    values = [x for batch in batches for x in batch]
    if values:
        assert losses.result() == pytest.approx(np.mean(values))
    else:
        assert math.isnan(losses.result())


def test_mean_accumulator_bad_input():
    losses = metrics.MeanAccumulator()
    with pytest.raises(ValueError, match="weight must be finite and >= 0, got -1.0"):
        losses.update(1.0, -1)
    with pytest.raises(ValueError, match=r"total must be a real scalar, got ndarray with shape \(2,\)"):
        losses.update(np.ones(2), 2)
    assert losses.weight == 0 and losses.total == 0  # a rejected update leaves nothing behind


def test_perplexity():
    assert metrics.perplexity(0.0) == 1.0
    assert metrics.perplexity(math.log(5.0)) == pytest.approx(5.0)
    assert metrics.perplexity(1e6) == metrics.perplexity(math.inf) == math.exp(metrics.MAX_LOG_PERPLEXITY)
    assert math.isnan(metrics.perplexity(math.nan))
    with pytest.raises(ValueError, match="mean_token_loss must be a real scalar"):
        metrics.perplexity([1.0, 2.0])


# --- sentences -----------------------------------------------------------------------------------


def test_sentence_tags_become_lines():
    abstract = "<s> marseille prosecutor says  so far no videos were used . </s> <s> a second sentence . </s>"
    assert metrics.sentences_to_lines(abstract) == (
        "marseille prosecutor says so far no videos were used .\na second sentence ."
    )
    assert metrics.split_sentences("<s> one </s>") == ["one"]
    # As a word-level tokenizer decodes the tags.
    assert metrics.split_sentences("< s > one . < / s > < s > two . < / s >") == ["one .", "two ."]


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("It rained. We stayed in! Why? No idea", ["It rained.", "We stayed in!", "Why?", "No idea"]),
        ('He said "go." Then (he left.) Fine', ['He said "go."', "Then (he left.)", "Fine"]),
        ("the man left . '' it was late . ok", ["the man left . ''", "it was late .", "ok"]),  # PTB
        ("mr. x met dr. y in the u.s. on jan. 5 . done", ["mr. x met dr. y in the u.s. on jan. 5 .", "done"]),
        ('said l.l. doungal . " there were many . " next', ["said l.l. doungal .", '" there were many .', '" next']),
        ("pi is 3.14 today. yes", ["pi is 3.14 today.", "yes"]),
        ("line one\nline two. three\n\n", ["line one", "line two.", "three"]),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert metrics.split_sentences(text) == sentences


@given(st.lists(st.sampled_from(["a", "mr.", "u.s.", ".", "!", "?", "''", '"', "x.", "end.", "\n"]), max_size=30))
def test_sentence_splitting_is_idempotent(words):
    # Untagged text only: a tagged sentence is kept whole, and may split further once untagged.
    lines = metrics.sentences_to_lines(" ".join(words))
    assert metrics.sentences_to_lines(lines) == lines


def test_split_sentences_bad_input():
    with pytest.raises(ValueError, match="text must be a str, got list"):
        metrics.split_sentences(["a"])


# --- ROUGE ---------------------------------------------------------------------------------------


def test_rouge_identical_and_disjoint():
    text = "the cat sat on the mat . it was happy ."
    assert metrics.rouge([text], [text]) == {name: pytest.approx(100.0) for name in metrics.ROUGE_TYPES}
    assert metrics.rouge(["alpha beta"], ["gamma delta"]) == {name: 0.0 for name in metrics.ROUGE_TYPES}


def test_rouge_stems():
    assert metrics.rouge(["the dog runs"], ["the dog running"])["rouge1"] == pytest.approx(100.0)


def test_rouge_lsum_matches_sentences_in_any_order():
    # One LCS over the whole text finds one sentence; summary-level LCS finds both.
    scores = metrics.rouge(["delta epsilon zeta. alpha beta gamma."], ["alpha beta gamma. delta epsilon zeta."])
    assert scores["rougeL"] == pytest.approx(50.0) and scores["rougeLsum"] == pytest.approx(100.0)
    tagged = metrics.rouge(
        ["delta epsilon zeta . alpha beta gamma ."], ["<s> alpha beta gamma . </s> <s> delta epsilon zeta . </s>"]
    )
    assert tagged == pytest.approx(scores)  # the tags are neither words nor lost sentence breaks


def test_rouge_averages_pairs():
    scores = metrics.rouge(["a b", "c d"], ["a b", "x y"])
    assert scores == {name: pytest.approx(50.0) for name in metrics.ROUGE_TYPES}


@pytest.mark.parametrize(
    "predictions, references, match",
    [
        ([], [], "empty"),
        (["a", "b"], ["a"], "same length, got 2 and 1"),
        ("a b", ["a b"], "predictions must be a sequence of strings, got a single str"),
        (["a", 3], ["a", "b"], "predictions\\[1\\] must be a str, got int"),
        (["a"], [None], "references\\[0\\] must be a str, got NoneType"),
    ],
)
def test_rouge_bad_input(predictions, references, match):
    with pytest.raises(ValueError, match=match):
        metrics.rouge(predictions, references)


def test_streaming_rouge_equals_one_shot():
    predictions = ["the cat sat .", "a dog ran home . it slept", "", "nothing in common"]
    references = ["<s> the cat sat on the mat . </s>", "a dog ran . then it slept at home .", "empty", "zzz"]
    streaming = metrics.RougeMetrics()
    assert all(math.isnan(v) for v in streaming.result().values())
    streaming.update(predictions[:1], references[:1])
    streaming.update([], [])  # a batch that was all padding
    streaming.update(predictions[1:], references[1:])
    assert streaming.count == 4
    assert streaming.result() == pytest.approx(metrics.rouge(predictions, references))


# --- Lead-n baseline -----------------------------------------------------------------------------


def test_lead_n():
    article = "first one . second , with mr. x . third ! fourth ? fifth ."
    assert baselines.lead_n(article) == "first one .\nsecond , with mr. x .\nthird !"
    assert baselines.lead_n(article, n=1) == "first one ."
    assert baselines.lead_n("only one", n=3) == "only one"
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        baselines.lead_n(article, n=0)
    with pytest.raises(ValueError, match="documents\\[0\\] must be a str, got bytes"):
        baselines.lead_baseline([b"x"], ["x"])


def test_lead_baseline_scores_the_leads():
    documents = ["a b c . d e f . g h i . j k l .", "m n o . p q r ."]
    references = ["<s> a b c . </s> <s> g h i . </s>", "<s> p q r . </s>"]
    assert baselines.lead_baseline(documents, references, n=3) == pytest.approx(
        metrics.rouge(["a b c .\nd e f .\ng h i .", "m n o .\np q r ."], references)
    )


def _cnn_dailymail_validation() -> Path:
    override = os.environ.get("ATTNJAX_SHARED_DATA")
    root = Path(override) if override else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    path = root / "cnn_dailymail" / "validation.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"CNN/DailyMail validation not found at {path} (set ATTNJAX_SHARED_DATA)")
    return path


@pytest.mark.data
def test_lead3_on_cnn_dailymail():
    with gzip.open(_cnn_dailymail_validation(), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    # The file holds its CNN articles first (Lead-3 scores ~29 ROUGE-1 there, ~40 on DailyMail), so
    # take 200 spread over the whole file to keep the mix.
    sample = [rows[i] for i in np.linspace(0, len(rows) - 1, 200).astype(int)]
    scores = baselines.lead_baseline([r["article"] for r in sample], [r["abstract"] for r in sample])
    # All 4,368 articles: 39.7 / 17.3 / 24.9 / 36.1 (See et al. 2017, full test set: 40.3 / 17.7 / 36.6 Lsum).
    assert 30 < scores["rouge1"] < 50 and 10 < scores["rouge2"] < 25
    assert scores["rougeL"] < scores["rougeLsum"] < scores["rouge1"]


# --- repeated n-grams ------------------------------------------------------------------------------


def test_ngram_repeats_counts_each_repeat_of_an_earlier_trigram():
    assert metrics.ngram_repeats("a b c a b c") == (1, 4)  # abc bca cab abc
    assert metrics.ngram_repeats("the cat the cat the cat") == (2, 4)  # (the cat the), (cat the cat) twice
    assert metrics.ngram_repeats("a b c d e") == (0, 3)
    assert metrics.ngram_repeats("a b") == (0, 0)
    assert metrics.ngram_repeats("a a a a", n=1) == (3, 4)


def test_ngram_repeats_ignores_case_spacing_and_sentence_tags():
    # "the cat sat . the cat sat .": (the cat sat) and (cat sat .) come back.
    assert metrics.ngram_repeats("<s> The cat sat . </s> <s> the  cat\nsat . </s>") == (2, 6)


def test_repeated_ngram_rate_pools_the_texts():
    assert metrics.repeated_ngram_rate(["a b c a b c"]) == pytest.approx(0.25)
    # 1 + 2 repeats of 4 + 4 trigrams; the short text adds none of either.
    assert metrics.repeated_ngram_rate(["a b c a b c", "x y x y x y", "too short"]) == pytest.approx(3 / 8)
    assert metrics.repeated_ngram_rate(["a b c d", "e f g h i"]) == 0.0
    assert metrics.repeated_ngram_rate(["", "a b"]) == 0.0 and metrics.repeated_ngram_rate([]) == 0.0


def test_repeated_ngram_rate_rejects_bad_input():
    with pytest.raises(ValueError, match="texts must be a sequence of strings, got a single str"):
        metrics.repeated_ngram_rate("a b c a b c")
    with pytest.raises(ValueError, match=r"n=0 is not allowed; expected a positive integer"):
        metrics.ngram_repeats("a b c", n=0)
