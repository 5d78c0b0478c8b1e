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


# --- labels ------------------------------------------------------------------------------------


def test_a_stray_minus_one_among_0_and_1_is_refused_naming_file_and_row(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("label\tsentence\n0\ta\n1\tb\n-1\tc\n1\td\n")
    with pytest.raises(ValueError, match=r"train.tsv: integer labels must be 0..N-1, found \[-1, 0, 1\] \(row 3 has -1\)"):
        load_split(str(path), "train")


def test_integer_labels_with_a_gap_are_refused_not_renumbered(tmp_path):
    path = tmp_path / "train.jsonl"
    write_jsonl(path, [{"text": "a", "label": 0}, {"text": "b", "label": 2}])
    with pytest.raises(ValueError, match=r"found \[0, 2\] \(row 2 has 2\).*pass label_names="):
        load_split(str(path), "train")
    # Naming the labels says what the indices are: then 2 is fine.
    assert [e["label"] for e in load_split(str(path), "train", label_names=["0", "1", "2"], validation_fraction=0.5)] in ([0], [2])


@pytest.mark.parametrize("content", ["sentence\tlabel\na\t0\nb\t\n", "sentence\tlabel\na\t0\nb\n"])
def test_an_empty_label_cell_is_an_error_naming_file_and_row(tmp_path, content):
    path = tmp_path / "train.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"train.tsv: row 2 has an empty label \('label' is (''|None)\)"):
        load_split(str(path), "train")


def test_a_label_of_another_split_outside_the_label_set_names_file_and_row(tmp_path):
    (tmp_path / "train.tsv").write_text("label\tsentence\n0\ta\n1\tb\n")
    (tmp_path / "dev.tsv").write_text("label\tsentence\n1\tc\n2\td\n")
    with pytest.raises(ValueError, match=r"dev.tsv row 2: label 2 is outside the label set \['0', '1'\]"):
        load_split(str(tmp_path), "validation")


# --- directory layouts -------------------------------------------------------------------------


def test_sentence_per_line_pair_like_pang_and_lee(tmp_path):
    root = tmp_path / "rt-polaritydata"
    root.mkdir()
    (root / "rt-polarity.pos").write_text("a gripping film .\n\nfunny and warm .\n")
    (root / "rt-polarity.neg").write_text("dull .\n")
    source = open_source(str(root))
    assert source.task == "classification" and source.label_names == ("neg", "pos")
    examples = source.readers["train"]()
    assert sorted((e["text"], e["label"]) for e in examples) == [("a gripping film .", 1), ("dull .", 0), ("funny and warm .", 1)]


def test_one_sentence_per_line_file_per_label(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "negative.txt").write_text("bad\nworse\n")
    (tmp_path / "train" / "positive.txt").write_text("good\n")
    train = load_split(str(tmp_path), "train", validation_fraction=0.34)
    validation = load_split(str(tmp_path), "validation", validation_fraction=0.34)
    assert sorted((e["text"], e["label"]) for e in [*train, *validation]) == [("bad", 0), ("good", 1), ("worse", 0)]


def test_parallel_document_and_summary_folders_like_bbc_news_summary(tmp_path):
    root = tmp_path / "BBC News Summary"
    for topic in ("business", "sport"):
        for number in ("001", "002"):
            for folder, text in (("News Articles", "article"), ("Summaries", "summary")):
                (root / folder / topic).mkdir(parents=True, exist_ok=True)
                (root / folder / topic / f"{number}.txt").write_text(f"{text} {topic} {number}")
    source = open_source(str(root))
    assert source.task == "summarization"
    examples = source.readers["train"]()
    assert [(e["document"], e["summary"]) for e in examples] == [
        (f"article {t} {n}", f"summary {t} {n}") for t in ("business", "sport") for n in ("001", "002")
    ]
    (root / "Summaries" / "sport" / "002.txt").unlink()
    with pytest.raises(ValueError, match=r"1 file\(s\) of 'News Articles' have no counterpart .* in 'Summaries' \(e.g. sport/002.txt\)"):
        open_source(str(root))


def test_an_unknown_directory_layout_names_what_it_found_and_what_is_accepted(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / "data.bin").write_bytes(b"x")
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    with pytest.raises(ValueError) as error:
        open_source(str(tmp_path))
    message = str(error.value)
    assert "1 folder(s) (nested) and 2 file(s) (data.bin, notes.md)" in message
    for layout in ("parallel folders", "label folders", "line files", "train/validation/test"):
        assert layout in message
    assert "file is empty" not in message


def test_empty_label_folders_never_say_the_file_is_empty(tmp_path):
    for label in ("neg", "pos", "unsup"):
        (tmp_path / label).mkdir()
    (tmp_path / "unsup" / "0_1.txt").write_text("unlabelled")
    with pytest.raises(ValueError, match=r"no examples found \(its label folders hold no example\)") as error:
        open_source(str(tmp_path), label_names=["neg", "pos"])
    assert "file is empty" not in str(error.value)


def test_split_named_text_files_are_not_taken_for_labels(tmp_path):
    (tmp_path / "train.txt").write_text("a\nb\n")
    (tmp_path / "test.txt").write_text("c\n")
    with pytest.raises(ValueError, match=r"cannot tell how this directory holds examples; it has 2 file\(s\) \(test.txt, train.txt\)"):
        open_source(str(tmp_path))
