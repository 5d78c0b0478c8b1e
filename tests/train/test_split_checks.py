"""A classification run refuses splits that would train or score nonsense, before any tokenizer is trained."""

import pytest

from attnjax.train import train_and_evaluate
from train_testing import tiny_classification


def local_config(tmp_path, train_rows, dev_rows, **changes):
    data = tmp_path / "data"
    data.mkdir()
    for name, rows in (("train", train_rows), ("dev", dev_rows)):
        (data / f"{name}.tsv").write_text("label\tsentence\n" + "".join(f"{label}\t{text}\n" for label, text in rows))
    config = tiny_classification(steps=8, **changes)
    config.data.source, config.data.options, config.data.test_split = str(data), {}, ""
    return config


def sorted_rows(n):
    return [(0, f"bad film {i}") for i in range(n)] + [(1, f"good film {i}") for i in range(n)]


def test_a_class_sorted_file_cut_to_one_class_is_refused(tmp_path):
    config = local_config(tmp_path, sorted_rows(40), sorted_rows(8), data__max_train_examples=32)
    with pytest.raises(ValueError, match=r"config.data.train_split='train' has a single class: all 32 examples have "
                                         r"label '0' \(cut to the first 32 .*sorted by class"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_one_class_validation_split_is_refused(tmp_path):
    config = local_config(tmp_path, sorted_rows(40), sorted_rows(8), data__max_eval_examples=8)
    with pytest.raises(ValueError, match=r"config.data.eval_split='validation' has a single class: all 8 examples"):
        train_and_evaluate(config, tmp_path / "run")


def test_a_train_split_smaller_than_one_batch_is_refused_with_the_counts(tmp_path):
    config = local_config(tmp_path, sorted_rows(5), sorted_rows(4))
    with pytest.raises(ValueError, match=r"train_split='train' has 10 examples, fewer than one batch \(config.train.batch_size=16\)"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_more_labels_than_classes_is_found_before_the_tokenizer(tmp_path):
    rows = [(i % 3, f"film {i}") for i in range(48)]
    config = local_config(tmp_path, rows, rows[:9])
    with pytest.raises(ValueError, match=r"has 3 labels \(0, 1, 2\) but config.model.num_classes=2; set config.model.num_classes=3"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
