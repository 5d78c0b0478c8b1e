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
    with pytest.raises(ValueError, match=r"unknown built-in data set 'qa'; expected one of: sentiment"):
        load_split("builtin:qa", "train")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_split("builtin:sentiment", "dev")
    with pytest.raises(ValueError, match="non-empty string"):
        load_split("", "train")


def test_unknown_options_name_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['fields'\]; it accepts \['data_dir', 'download'\]"):
        load_split("tfds:imdb_reviews", "train", fields={"text": "review"})
    with pytest.raises(ValueError, match=r"builtin:sentiment.*unknown option\(s\) \['data_dir'\]"):
        load_split("builtin:sentiment", "train", data_dir="/x")
