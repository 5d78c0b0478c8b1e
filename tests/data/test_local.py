import gzip
import json

import pytest

from attnjax.data import load_split, open_source


def write_jsonl(path, rows, compress=False):
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text)


def test_tsv_split_directory_with_dev_alias(tmp_path):
    (tmp_path / "train.tsv").write_text('label\tsentence\n0\tdull " film\n1\tfine film\n1\tgreat\n')
    (tmp_path / "dev.tsv").write_text("label\tsentence\n1\tnice\n")
    train = load_split(str(tmp_path), "train")
    assert list(train) == [{"text": 'dull " film', "label": 0}, {"text": "fine film", "label": 1}, {"text": "great", "label": 1}]
    assert list(load_split(f"file:{tmp_path}", "validation")) == [{"text": "nice", "label": 1}]
    with pytest.raises(ValueError, match="no 'test' split; it has train, validation"):
        load_split(str(tmp_path), "test")


def test_csv_with_field_mapping_and_label_names(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('body,verdict\n"good, really",pos\nbad,neg\n')
    source = open_source(str(path), fields={"text": "body", "label": "verdict"}, label_names=["neg", "pos"])
    assert source.task == "classification" and source.label_names == ("neg", "pos")
    examples = load_split(str(path), "train", fields={"text": "body", "label": "verdict"}, label_names=["neg", "pos"], validation_fraction=0.5)
    assert len(examples) == 1 and examples[0]["label"] in (0, 1)


@pytest.mark.parametrize("compress", [False, True])
def test_jsonl_summarization(tmp_path, compress):
    path = tmp_path / ("train.jsonl.gz" if compress else "train.jsonl")
    write_jsonl(path, [{"article": f"doc {i}", "abstract": f"sum {i}"} for i in range(10)], compress)
    source = open_source(str(tmp_path))
    assert source.task == "summarization"
    train, validation = load_split(str(tmp_path), "train"), load_split(str(tmp_path), "validation")
    assert len(train) == 9 and len(validation) == 1
    assert {e["document"] for e in train} | {e["document"] for e in validation} == {f"doc {i}" for i in range(10)}
    assert validation[0]["summary"] == validation[0]["document"].replace("doc", "sum")


def test_label_directory_like_aclimdb(tmp_path):
    for split in ("train", "test"):
        for label in ("neg", "pos", "unsup"):
            (tmp_path / split / label).mkdir(parents=True)
            (tmp_path / split / label / "0_1.txt").write_text(f"{split} {label}<br />text")
    test = load_split(str(tmp_path), "test", label_names=["neg", "pos"])
    assert sorted((e["text"], e["label"]) for e in test) == [("test neg<br />text", 0), ("test pos<br />text", 1)]
    assert open_source(str(tmp_path / "train")).label_names == ("neg", "pos", "unsup")  # all subdirectories, sorted
    with pytest.raises(FileNotFoundError, match=r"expected a subdirectory per label \['neg', 'positive'\]"):
        load_split(str(tmp_path), "test", label_names=["neg", "positive"])


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_split(str(tmp_path / "nope.tsv"), "train")


def test_missing_field(tmp_path):
    path = tmp_path / "train.jsonl"
    write_jsonl(path, [{"text": "a", "label": 0}, {"text": "b"}])
    with pytest.raises(ValueError, match=r"row 2 has no field 'label'"):
        load_split(str(path), "train")


def test_unmappable_columns(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"found columns \['a', 'b'\].*pass fields="):
        load_split(str(path), "train")


def test_mapping_to_absent_column(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("label\tsentence\n1\tx\n")
    with pytest.raises(ValueError, match="mapped to column 'body'"):
        load_split(str(path), "train", fields={"text": "body", "label": "label"})


@pytest.mark.parametrize("content", ["", "label\tsentence\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "train.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match="no examples found"):
        load_split(str(path), "train")


def test_undecodable_text(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes(b"label\tsentence\n1\tok\n0\tcaf\xe9\n")
    with pytest.raises(ValueError, match="line 3 is not valid UTF-8.*re-encode"):
        load_split(str(path), "train")


def test_label_outside_label_set(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("label\tsentence\n0\ta\n2\tb\n")
    with pytest.raises(ValueError, match=r"row 2: label 2 is outside the label set \['neg', 'pos'\]"):
        load_split(str(path), "train", label_names=["neg", "pos"])


def test_bad_json_line_and_unsupported_type(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{oops\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        load_split(str(path), "train")
    other = tmp_path / "train.parquet"
    other.write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        load_split(str(other), "train")



def test_tagged_summary_sentences_become_lines(tmp_path):
    # The preprocessed CNN/DailyMail abstracts wrap each sentence in <s> </s>.
    rows = [{"article": "a b . c d .", "abstract": "<s> first one . </s> <s>  second   one . </s>"},
            {"article": "x .", "abstract": "untagged <b> summary ."}]
    for split in ("train", "validation"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = load_split(str(tmp_path), "validation")
    assert [e["summary"] for e in examples] == ["first one .\nsecond one .", "untagged <b> summary ."]
    assert examples[0]["document"] == "a b . c d ."  # documents are left alone
