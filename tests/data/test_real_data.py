"""The real files in ../shared/data (or $ATTNJAX_SHARED_DATA): counts and canonical fields."""

import numpy as np
import pytest

from attnjax.data import BatchIterator, encode_examples, load_split, open_source, split_of, train_tokenizer

pytestmark = pytest.mark.data


@pytest.mark.parametrize(
    "folder, counts, task",
    [
        ("sst2", {"train": 67349, "validation": 872}, "classification"),
        ("imdb", {"train": 20000, "validation": 5000}, "classification"),
        ("cnn_dailymail", {"train": 39227, "validation": 4368}, "summarization"),
    ],
)
def test_counts_and_fields(shared_data, folder, counts, task):
    source = open_source(str(shared_data / folder))
    assert source.task == task and set(source.native_splits) == set(counts)
    for split, count in counts.items():
        examples = split_of(source, split)
        assert len(examples) == count
        rows = [examples[i] for i in np.linspace(0, count - 1, 50).astype(int)]
        if task == "classification":
            assert source.label_names == ("0", "1")
            assert all(set(r) == {"text", "label"} and r["text"].strip() and r["label"] in (0, 1) for r in rows)
            assert 0.3 < np.mean([examples[i]["label"] for i in range(0, count, 7)]) < 0.7
        else:
            assert all(set(r) == {"document", "summary"} and len(r["document"]) > len(r["summary"]) > 0 for r in rows)
            # The abstracts' <s> ... </s> sentence tags become one sentence per line.
            assert all("<s>" not in r["summary"] and "</s>" not in r["summary"] for r in rows)
            assert np.mean(["\n" in r["summary"] for r in rows]) > 0.5
    with pytest.raises(ValueError, match="no 'test' split"):
        split_of(source, "test")


def test_imdb_tokenize_and_batch(shared_data):
    train = load_split(str(shared_data / "imdb"), "validation")
    texts = [train[i]["text"] for i in range(500)]
    assert any("<br />" in t for t in texts)
    tokenizer = train_tokenizer("sentencepiece", texts, lower=True, strip_html=True, vocab_size=500)
    head = [train[i] for i in range(400)]
    full = tokenizer.encode_batch([e["text"] for e in head])
    data = encode_examples(head, tokenizer, max_length=256)
    assert all(np.array_equal(ids, f[:256]) for ids, f in zip(data.inputs, full))
    batch = next(BatchIterator(data, 16, bucket_lengths=(128, 256), process_index=0, process_count=1))
    assert batch["inputs"].shape[0] == 16 and batch["labels"].shape == (16,)
