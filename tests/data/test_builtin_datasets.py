import re

import numpy as np
import pytest

from attnjax.data import BUILTIN_DATASETS, generate, load_split, open_source
from attnjax.data import builtin_datasets as bt


def label_by_the_documented_rules(text: str) -> int:
    """An independent reading of the sentiment rules in the builtin_datasets docstring."""
    text = re.sub(r"\( [^)]* \)", "", text)  # distractor spans never count
    match = re.match(r"(.*?) , (but|yet|although|even though) (.*)", text)
    if match is None:
        deciding = text
    else:
        deciding = match.group(3) if match.group(2) in ("but", "yet") else match.group(1)
    words = deciding.split()
    polarity = 1 if any(w in bt.POSITIVE for w in words) else -1
    assert sum(w in bt.POSITIVE + bt.NEGATIVE for w in words) == 1
    if any(w in bt.NEGATORS for w in words):
        polarity = -polarity
    return int(polarity > 0)


def test_registered_tasks():
    assert set(BUILTIN_DATASETS.names()) == {"sentiment", "salient_summary", "salient_events"}
    assert open_source("builtin:sentiment").label_names == ("negative", "positive")
    assert open_source("builtin:salient_summary").task == "summarization"


@pytest.mark.parametrize("task", ["sentiment", "salient_summary"])
def test_same_seed_same_data_and_splits_differ(task):
    sizes = {"train": 50, "validation": 20, "test": 20}
    a = list(load_split(f"builtin:{task}", "train", seed=7, num_examples=sizes))
    assert a == list(load_split(f"builtin:{task}", "train", seed=7, num_examples=sizes))
    assert a != list(load_split(f"builtin:{task}", "train", seed=8, num_examples=sizes))
    assert a[:20] != list(load_split(f"builtin:{task}", "test", seed=7, num_examples=sizes))
    assert len(load_split(f"builtin:{task}", "validation", seed=7, num_examples=sizes)) == 20


def test_sentiment_labels_follow_the_documented_rules():
    examples = generate("sentiment", "train", 3000, seed=0)
    assert all(label_by_the_documented_rules(e["text"]) == e["label"] for e in examples)
    labels = np.array([e["label"] for e in examples])
    assert 0.45 < labels.mean() < 0.55
    texts = " ".join(e["text"] for e in examples)
    for phrase in (" but ", " yet ", " although ", " even though ", "( ", " not ", " very "):
        assert phrase in texts


def test_sentiment_bags_of_words_do_not_determine_the_label():
    # Swapping the two clauses keeps the bag of words; for most reviews it flips the label.
    flipped = two_clause = 0
    for e in generate("sentiment", "train", 2000, seed=0):
        match = re.match(r"(.*?) , (but|yet|although|even though) (.*)", e["text"])
        if match is None:
            continue
        swapped = f"{match.group(3)} , {match.group(2)} {match.group(1)}"
        assert sorted(swapped.split()) == sorted(e["text"].split())
        two_clause += 1
        flipped += label_by_the_documented_rules(swapped) != e["label"]
    assert two_clause > 1400 and flipped / two_clause > 0.75


def test_salient_summary_copies_the_one_cued_event():
    for e in generate("salient_summary", "validation", 300, seed=1):
        sentences = [s.strip() for s in e["document"].split(" .") if s.strip()]
        assert 6 <= len(sentences) <= 12
        salient = [s for s in sentences if any(f", {cue} " in s for cue in bt.SALIENT_CUES)]
        assert len(salient) == 1 and salient[0].endswith(e["summary"])
        agents = [s.split(" the ")[1].split()[0] for s in sentences]
        assert len(set(agents)) == len(agents)


def _events(document: str) -> list[str]:
    return [s.strip() for s in document.split(" .") if s.strip()]


def _cue_and_event(sentence: str) -> tuple[str, str]:
    """``"[<cue>] the <agent> ..."`` -> (cue, ``"the <agent> ..."``); cues hold no ``the``."""
    words = sentence.split()
    start = words.index("the")
    return " ".join(words[:start]), " ".join(words[start:])


def _summary_by_the_documented_rules(document: str) -> tuple[str, int]:
    """An independent reading of salient_events: the events with a salient cue not inside hearsay,
    in document order; and how many salient events the summary must have (always 2)."""
    picked = []
    for sentence in _events(document):
        cue, event = _cue_and_event(sentence)
        if cue in bt.EVENT_SALIENT_CUES:
            picked.append(event)
    return " and ".join(picked), len(picked)


def test_salient_events_summary_is_the_cued_events_that_are_not_hearsay():
    examples = generate("salient_events", "validation", 2000, seed=1)
    complete = uncued = hearsay = 0
    for e in examples:
        sentences = _events(e["document"])
        assert 5 <= len(sentences) <= 9
        agents = [_cue_and_event(s)[1].split()[1] for s in sentences]
        assert all(a in bt.MANY_AGENTS for a in agents)
        assert len(set(agents)) == len(agents)
        summary_events = e["summary"].split(" and ")
        assert len(summary_events) == 2
        # Every summary word but the joining "and" is a document word: the rest can be copied.
        assert set(e["summary"].split()) - {"and"} <= set(e["document"].split())
        hearsay += any(h in e["document"] for h in bt.HEARSAY)
        read, found = _summary_by_the_documented_rules(e["document"])
        if found == 2:
            complete += 1
            assert read == e["summary"]
        else:
            uncued += 1
            # The cued events are exactly the summary events the document marks.
            assert all(part in summary_events for part in read.split(" and ") if part)
    # 20% of salient events carry no cue: 1 - 0.8^2 = 36% of documents miss at least one.
    assert 0.30 < uncued / len(examples) < 0.42
    assert 0.4 < hearsay / len(examples) < 0.6


def test_salient_events_is_deterministic_and_split_streams_differ():
    assert generate("salient_events", "train", 50, seed=3) == generate("salient_events", "train", 50, seed=3)
    assert generate("salient_events", "train", 50, seed=3) != generate("salient_events", "validation", 50, seed=3)


def test_salient_events_hearsay_copies_the_cue_words():
    # A bag of cue words cannot tell a real salient event from hearsay: the hearsay sentence holds
    # the same cue words, preceded by its hearsay phrase.
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(500):
        e = bt.salient_events_example(rng, hearsay_rate=1.0, uncued_rate=0.0)
        for sentence in _events(e["document"]):
            if any(h in sentence for h in bt.HEARSAY):
                assert any(c in sentence for c in bt.EVENT_SALIENT_CUES)
                assert _cue_and_event(sentence)[1] not in e["summary"]
                seen += 1
    assert seen == 500


def test_bad_options():
    with pytest.raises(ValueError, match="num_examples has unknown splits"):
        open_source("builtin:sentiment", num_examples={"dev": 3})
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        generate("sentiment", "dev", 3)


def test_sentiment_parts_read_back_what_decides_the_label():
    assert bt.sentiment_parts("the plot was not good , but the acting was truly great") == {
        "decides": "second", "negated": False, "hearsay": False, "adjective": "great"}
    assert bt.sentiment_parts("( my friend said it was bad ) the plot was good , even though the cast was never boring") == {
        "decides": "first", "negated": False, "hearsay": True, "adjective": "good"}
    assert bt.sentiment_parts("the music was hardly clever ( a critic said it was dull )") == {
        "decides": "only", "negated": True, "hearsay": True, "adjective": "clever"}
    # On generated reviews the parts give back every label: the deciding adjective, flipped by a negator.
    examples = generate("sentiment", "train", 2000)
    parts = [bt.sentiment_parts(e["text"]) for e in examples]
    for example, p in zip(examples, parts):
        assert p["adjective"] in bt.POSITIVE + bt.NEGATIVE
        assert int((p["adjective"] in bt.POSITIVE) != p["negated"]) == example["label"], example
    assert {p["decides"] for p in parts} == {"only", "first", "second"}
    assert 0 < sum(p["hearsay"] for p in parts) < len(parts) and 0 < sum(p["negated"] for p in parts) < len(parts)


def test_sentiment_keep_first_rate_sets_the_contrast_direction_and_keeps_the_default_draws():
    # The default draws are the generator's before the option existed (these four came from it, 5a15da0).
    assert generate("sentiment", "train", 4, seed=0) == [
        {"text": "the pacing felt messy ( the poster said it was awful ) , yet the dialogue looked gripping", "label": 1},
        {"text": "the cast felt never very great , although the cast seemed clever", "label": 0},
        {"text": "the dialogue looked not fresh , even though the cast felt never bad", "label": 0},
        {"text": "the ending is hardly so clumsy , even though the ending looked never so clever ( some viewers said it was moving )",
         "label": 1},
    ]
    for rate, allowed in ((0.0, {"only", "second"}), (1.0, {"only", "first"})):
        examples = generate("sentiment", "train", 1000, seed=0, keep_first_rate=rate)
        parts = [bt.sentiment_parts(e["text"]) for e in examples]
        assert {p["decides"] for p in parts} == allowed
        assert all(label_by_the_documented_rules(e["text"]) == e["label"] for e in examples)
    # One direction still hides the label from a bag of words: swapping the clauses flips it.
    two_clause = [e["text"] for e in generate("sentiment", "train", 1000, seed=0, keep_first_rate=0.0) if " , " in e["text"]]
    flips = []
    for text in two_clause:
        swapped = re.sub(r"(.*?) , (but|yet) (.*)", r"\3 , \2 \1", text)
        assert sorted(swapped.split()) == sorted(text.split())
        flips.append(label_by_the_documented_rules(swapped) != label_by_the_documented_rules(text))
    assert len(flips) > 700 and sum(flips) / len(flips) > 0.75


def test_generate_keeps_its_splits_without_sharing_them():
    from attnjax.data import builtin_datasets

    builtin_datasets._generated.cache_clear()
    first = generate("sentiment", "train", 40, seed=3, keep_first_rate=0.0)
    first[0]["label"] = 1 - first[0]["label"]  # a caller changing its copy
    first.append({"text": "extra", "label": 0})
    again = generate("sentiment", "train", 40, seed=3, keep_first_rate=0.0)
    builtin_datasets._generated.cache_clear()
    fresh = generate("sentiment", "train", 40, seed=3, keep_first_rate=0.0)
    assert again == fresh and len(again) == 40
    assert generate("sentiment", "train", 40, seed=3) != fresh  # the options are part of the key
    kept = builtin_datasets._generated.cache_info().maxsize
    for seed in range(2 * kept):
        generate("salient_events", "test", 2, seed=seed)
    assert builtin_datasets._generated.cache_info().currsize == kept


def test_salient_events_telegraphic_summaries_keep_the_documents_and_drop_the_template():
    sentences = generate("salient_events", "validation", 200, seed=1)
    telegraphic = generate("salient_events", "validation", 200, seed=1, summary_style="telegraphic")
    template = {"the", "near", "and"}
    for s, t in zip(sentences, telegraphic):
        assert s["document"] == t["document"]  # the same documents and events: only the summary's wording differs
        events = [[w for w in event.split() if w not in template] for event in s["summary"].split(" and ")]
        assert t["summary"] == " ; ".join(" ".join(words) for words in events)
        assert all(len(words) == 4 for words in events)  # agent, verb, object, place
        assert set(t["summary"].split()) - {";"} <= set(t["document"].split())
    with pytest.raises(ValueError, match="summary_style='headline'.*expected one of: sentence, telegraphic"):
        generate("salient_events", "validation", 1, summary_style="headline")
