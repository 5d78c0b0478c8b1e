import pytest

from attnjax.data import SOURCE_KINDS, load_split
from attnjax.data.sources import parse_source


def test_source_kinds_registered():
    assert {"tfds", "file", "builtin"} <= set(SOURCE_KINDS.names())


def test_parse_source():
    assert parse_source("tfds:glue/sst2") == ("tfds", "glue/sst2")
    assert parse_source("builtin:sentiment") == ("builtin", "sentiment")
    assert parse_source("data/train.tsv") == ("file", "data/train.tsv")
    assert parse_source("file:/x/y.csv") == ("file", "/x/y.csv")


def test_unknown_kind_lists_known():
    with pytest.raises(ValueError, match=r"unknown data source kind 'hf'.*tfds:"):
        load_split("hf:imdb", "train")


def test_unknown_names():
    with pytest.raises(ValueError, match=r"unknown TFDS data set 'mnist'; expected one of: imdb_reviews"):
        load_split("tfds:mnist", "train")
    with pytest.raises(ValueError, match=r"unknown built-in task 'qa'; expected one of: sentiment"):
        load_split("builtin:qa", "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_split("builtin:sentiment", "dev")
    with pytest.raises(ValueError, match="non-empty string"):
        load_split("", "train")
