import numpy as np
import pytest

from attnjax.data import BatchIterator, EncodedExamples, encode_examples, train_tokenizer


def make_data(n=203, seed=0, targets=False):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 70, size=n)
    # Every token of example i is 3 + i, so a batch row tells which example it holds.
    inputs = [np.full(length, 3 + i, dtype=np.int32) for i, length in enumerate(lengths)]
    if targets:
        tails = [np.arange(3, 3 + int(k), dtype=np.int32) for k in rng.integers(1, 30, size=n)]
        return EncodedExamples(inputs, targets=tails)
    return EncodedExamples(inputs, labels=(np.arange(n) % 2).astype(np.int32))


def iterator(data, **options):
    defaults = dict(batch_size=8, bucket_lengths=(16, 32, 64), seed=1, process_index=0, process_count=1)
    return BatchIterator(data, **{**defaults, **options})


def collect(it, count):
    return [next(it) for _ in range(count)]


def same(a, b):
    return all(x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b))


def test_batch_shapes_dtypes_and_padding():
    data = make_data()
    for batch in iterator(data, num_epochs=1):
        batch_size, length = batch["inputs"].shape
        assert batch_size == 8 and length in (16, 32, 64)
        assert all(v.dtype == np.int32 for v in batch.values())
        assert np.array_equal(batch["input_mask"].sum(1), batch["input_lengths"])
        assert np.all(batch["inputs"][batch["input_mask"] == 0] == 0)
        assert batch["input_lengths"].max() <= length
        assert length == 16 or batch["input_lengths"].max() > length // 2  # smallest bucket that fits


def test_truncates_to_largest_bucket_and_bucket_check():
    data = EncodedExamples([np.arange(3, 103, dtype=np.int32)] * 4, labels=np.zeros(4, np.int32))
    batch = next(iterator(data, batch_size=4))
    assert batch["inputs"].shape == (4, 64) and np.all(batch["input_lengths"] == 64)
    with pytest.raises(ValueError, match="no full global batch of 8"):
        iterator(data)


def test_same_seed_same_batches_and_epochs_differ():
    data = make_data()
    per_epoch = iterator(data).num_batches_in_epoch()
    a = collect(iterator(data), 2 * per_epoch)
    b = collect(iterator(data), 2 * per_epoch)
    assert same(a, b)
    assert not same(a[:per_epoch], a[per_epoch:])
    assert not same(a[:per_epoch], collect(iterator(data, seed=2), per_epoch))


def test_each_example_at_most_once_per_epoch_and_all_when_padding_remainder():
    data = make_data()
    kept = set()
    for batch in iterator(data, num_epochs=1, drop_remainder=False):
        ids = batch["inputs"][batch["example_mask"] == 1, 0] - 3
        assert not kept & set(ids.tolist())
        kept |= set(ids.tolist())
        assert np.all(batch["input_lengths"][batch["example_mask"] == 0] == 0)
        assert np.array_equal(batch["labels"][batch["example_mask"] == 1], ids % 2)
    assert kept == set(range(len(data)))


def test_resume_from_saved_state_yields_exactly_the_remaining_batches():
    data = make_data()
    total = iterator(data).num_batches_in_epoch() + 5  # crosses an epoch boundary
    reference = collect(iterator(data), total)
    it = iterator(data)
    collect(it, 7)
    state = it.get_state()
    resumed = iterator(data)
    resumed.set_state(dict(state))
    assert same(collect(resumed, total - 7), reference[7:])
    with pytest.raises(ValueError, match="does not match this iterator"):
        iterator(data, seed=5).set_state(state)


def test_num_epochs_stops():
    data = make_data()
    it = iterator(data, num_epochs=2)
    assert len(list(it)) == 2 * it.num_batches_in_epoch()


def test_processes_get_disjoint_rows_with_the_same_shapes():
    data = make_data()
    shards = [collect(iterator(data, batch_size=4, process_index=p, process_count=2), 10) for p in range(2)]
    single = collect(iterator(data, batch_size=8), 10)
    for step in range(10):
        left, right = shards[0][step], shards[1][step]
        assert left["inputs"].shape == right["inputs"].shape == (4, single[step]["inputs"].shape[1])
        assert np.array_equal(np.concatenate([left["inputs"], right["inputs"]]), single[step]["inputs"])
    uneven = [list(iterator(data, batch_size=4, process_index=p, process_count=2, num_epochs=1, drop_remainder=False))
              for p in range(2)]
    assert len(uneven[0]) == len(uneven[1])
    assert [b["inputs"].shape for b in uneven[0]] == [b["inputs"].shape for b in uneven[1]]
    assert any(b["example_mask"].sum() == 0 for b in uneven[1])  # a share of only padding rows keeps the shape
    with pytest.raises(ValueError, match="process_index must be in"):
        iterator(data, process_index=2, process_count=2)


def test_default_process_sharding_comes_from_jax():
    it = BatchIterator(make_data(), 8, bucket_lengths=(64,))
    assert (it.process_index, it.process_count) == (0, 1)


def test_summarization_targets_end_with_eos():
    tokenizer = train_tokenizer("byte", [])
    examples = [{"document": "a long document " * 5, "summary": "short"}, {"document": "doc", "summary": "s" * 40}]
    data = encode_examples(examples, tokenizer, max_length=32, max_target_length=16)
    assert data.targets[0][-1] == tokenizer.eos_id and len(data.targets[1]) == 16
    batch = next(BatchIterator(data, 2, bucket_lengths=(32,), target_bucket_lengths=(16,), process_index=0, process_count=1))
    assert batch["inputs"].shape == (2, 32) and batch["targets"].shape == (2, 16)
    assert sorted(batch["target_lengths"].tolist()) == [6, 16] and "labels" not in batch


def test_summary_buckets_pair_input_and_target_lengths():
    data = make_data(targets=True)
    for batch in iterator(data, target_bucket_lengths=(8, 32), num_epochs=1):
        assert batch["targets"].shape[1] in (8, 32) and batch["target_lengths"].max() <= batch["targets"].shape[1]


def test_encode_examples_errors():
    tokenizer = train_tokenizer("byte", [])
    with pytest.raises(ValueError, match="no examples"):
        encode_examples([], tokenizer, 8)
    with pytest.raises(ValueError, match="max_target_length >= 2"):
        encode_examples([{"document": "a", "summary": "b"}], tokenizer, 8)
    with pytest.raises(ValueError, match="classification: text\\+label; summarization: document\\+summary"):
        encode_examples([{"question": "a"}], tokenizer, 8)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        BatchIterator(make_data(), 0, process_index=0, process_count=1)


@pytest.mark.parametrize("targets", [False, True])
def test_encoded_examples_save_load(tmp_path, targets):
    data = make_data(n=20, targets=targets)
    data.inputs[3] = np.zeros(0, np.int32)  # an empty text survives the round trip
    data.save(tmp_path / "enc.npz")
    loaded = EncodedExamples.load(tmp_path / "enc.npz")
    assert len(loaded) == 20 and all(np.array_equal(a, b) for a, b in zip(loaded.inputs, data.inputs))
    if targets:
        assert loaded.labels is None and all(np.array_equal(a, b) for a, b in zip(loaded.targets, data.targets))
    else:
        assert loaded.targets is None and np.array_equal(loaded.labels, data.labels)
