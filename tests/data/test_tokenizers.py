import json

import numpy as np
import pytest

from attnjax.data import TOKENIZERS, Normalizer, load_or_train_tokenizer, load_tokenizer, train_tokenizer

CORPUS = [
    "The film was great.<br /><br />I loved the acting, the music and the ending!",
    "A dull, boring plot; the cast seemed lost. Not worth it.",
    "Café scenes in Paris were charming — really charming.",
] * 40


def test_registry_names():
    assert set(TOKENIZERS.names()) == {"byte", "word", "sentencepiece"}


def test_normalizer():
    assert Normalizer(lower=True, strip_html=True)("A<br />B<BR>c<br/>") == "a b c "
    assert Normalizer()("A<br />") == "A<br />"


@pytest.mark.parametrize("kind, options", [("byte", {}), ("word", {"vocab_size": 60}), ("sentencepiece", {"vocab_size": 50})])
def test_roundtrip_save_load_and_specials(tmp_path, kind, options):
    tokenizer = train_tokenizer(kind, CORPUS, lower=True, strip_html=True, **options)
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2)
    ids = tokenizer.encode(CORPUS[0])
    assert ids and all(3 <= i < tokenizer.vocab_size for i in ids)
    assert "<br" not in tokenizer.decode(ids) and "loved" in tokenizer.decode(ids)
    tokenizer.save(tmp_path / "tok")
    restored = load_tokenizer(tmp_path / "tok")
    assert type(restored) is type(tokenizer) and restored.vocab_size == tokenizer.vocab_size
    assert restored.encode(CORPUS[2]) == tokenizer.encode(CORPUS[2])
    assert json.loads((tmp_path / "tok" / "tokenizer.json").read_text())["normalizer"] == {"lower": True, "strip_html": True}


def test_byte_tokenizer_is_utf8():
    tokenizer = train_tokenizer("byte", [])
    assert tokenizer.vocab_size == 259
    assert tokenizer.encode("é") == [0xC3 + 3, 0xA9 + 3]
    assert tokenizer.decode(tokenizer.encode("naïve ☃")) == "naïve ☃"


def test_word_vocabulary_is_frequency_ranked_and_maps_unknowns():
    tokenizer = train_tokenizer("word", ["b a a", "c a b"], vocab_size=6)
    assert tokenizer.words == ["<pad>", "<s>", "</s>", "<unk>", "a", "b"]
    assert tokenizer.encode("a c zz") == [4, 3, 3]


@pytest.mark.parametrize("kind, options", [("byte", {}), ("word", {"vocab_size": 80}), ("sentencepiece", {"vocab_size": 50})])
def test_truncated_batch_encoding_equals_prefix_of_full(kind, options):
    tokenizer = train_tokenizer(kind, CORPUS, **options)
    rng = np.random.default_rng(0)
    words = " ".join(CORPUS[:3]).split()
    texts = [" ".join(rng.choice(words, int(n))) for n in rng.integers(1, 400, size=50)] + ["", "x" * 300]
    full = tokenizer.encode_batch(texts)
    for max_length in (1, 7, 64):
        cut = tokenizer.encode_batch(texts, max_length=max_length)
        assert all(c.dtype == np.int32 and np.array_equal(c, f[:max_length]) for c, f in zip(cut, full))


def test_load_or_train_reuses_saved_tokenizer(tmp_path):
    first = load_or_train_tokenizer(tmp_path, "word", CORPUS, vocab_size=50)
    again = load_or_train_tokenizer(tmp_path, "word", ["completely different text"], vocab_size=50)
    assert again.words == first.words
    with pytest.raises(ValueError, match="holds a 'word' tokenizer but 'byte' was asked"):
        load_or_train_tokenizer(tmp_path, "byte", CORPUS)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer in"):
        load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'"):
        train_tokenizer("bpe", CORPUS)
    with pytest.raises(ValueError, match="no text"):
        train_tokenizer("sentencepiece", [])
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        train_tokenizer("byte", []).encode_batch(["a"], max_length=0)
