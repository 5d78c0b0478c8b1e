"""experiments/sentiment_breakdown.py: accuracy by kind of builtin:sentiment review, from stored runs."""

import json

import pytest

from attnjax.data.builtin_datasets import generate, sentiment_parts
from experiments import sentiment_breakdown

SIZES = {"train": 10, "validation": 10, "test": 60}


def _results(tmp_path, runs):
    """A results directory whose runs predicted right exactly where ``runs[name](parts)`` is True."""
    reviews = [sentiment_parts(e["text"]) for e in generate("sentiment", "test", SIZES["test"])]
    records = []
    for seed, (label, right) in enumerate(runs.items()):
        workdir = tmp_path / "runs" / f"run{seed}"
        workdir.mkdir(parents=True)
        (workdir / "predictions_test.jsonl").write_text(
            "".join(json.dumps({"index": i, "correct": float(right(p))}) + "\n" for i, p in enumerate(reviews))
        )
        records.append({"status": "ok", "seed": seed, "task": "sentiment", "variant": label, "label": label,
                        "workdir": f"runs/run{seed}",
                        "config": {"data": {"source": "builtin:sentiment", "options": {"num_examples": SIZES}}}})
    records.append({"status": "ok", "seed": 0, "task": "events", "variant": "x", "workdir": "runs/none",
                    "config": {"data": {"source": "builtin:salient_events", "options": {}}}})  # not sentiment: skipped
    (tmp_path / "grid.json").write_text("{}")
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return reviews


def _row(text, label):
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_accuracy_by_kind_of_review(tmp_path):
    reviews = _results(tmp_path, {
        "first only": lambda p: p["decides"] == "first",
        "no hearsay": lambda p: not p["hearsay"],
    })
    text = sentiment_breakdown.breakdown(tmp_path)
    counts = {kind: sum(keep(p) for p in reviews) for kind, keep in sentiment_breakdown.KINDS}
    assert all(0 < n < len(reviews) for n in counts.values())
    header = next(line for line in text.splitlines() if line.startswith("| run |"))
    assert f"first decides [{counts['first decides']}]" in header and f"hearsay [{counts['hearsay']}]" in header
    first = _row(text, "first only")
    assert first[:2] == ["first only", "0"]
    assert float(first[2]) == pytest.approx(100 * counts["first decides"] / len(reviews), abs=0.05)
    assert first[3:6] == ["0.0", "100.0", "0.0"]  # one clause, first decides, second decides
    no_hearsay = _row(text, "no hearsay")
    assert no_hearsay[-2:] == ["0.0", "100.0"]  # hearsay, no hearsay
    assert "events" not in text and "| x |" not in text


def test_a_directory_without_sentiment_runs_or_predictions_fails_clearly(tmp_path, capsys):
    (tmp_path / "grid.json").write_text("{}")
    (tmp_path / "runs.jsonl").write_text("")
    assert sentiment_breakdown.main([str(tmp_path)]) == 2
    assert "holds no finished runs trained on builtin:sentiment" in capsys.readouterr().err
    _results(tmp_path / "r", {"a": lambda p: True})
    assert sentiment_breakdown.main([str(tmp_path / "r"), "--split", "validation"]) == 2
    assert "has no predictions_validation.jsonl" in capsys.readouterr().err


def test_runs_with_other_generator_options_get_their_own_table(tmp_path):
    _results(tmp_path, {"both": lambda p: True})
    reviews = [sentiment_parts(e["text"]) for e in generate("sentiment", "test", SIZES["test"], keep_first_rate=0.0)]
    workdir = tmp_path / "runs" / "oneway"
    workdir.mkdir()
    (workdir / "predictions_test.jsonl").write_text(
        "".join(json.dumps({"index": i, "correct": float(p["decides"] == "second")}) + "\n" for i, p in enumerate(reviews))
    )
    record = {"status": "ok", "seed": 0, "task": "sentiment", "variant": "one way", "label": "one way", "workdir": "runs/oneway",
              "config": {"data": {"source": "builtin:sentiment", "options": {"num_examples": SIZES, "keep_first_rate": 0.0}}}}
    with open(tmp_path / "runs.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    text = sentiment_breakdown.breakdown(tmp_path)
    tables = text.split("Accuracy x 100 by kind of review")[1:]
    assert len(tables) == 2 and '"keep_first_rate": 0.0' in tables[1] and "keep_first_rate" not in tables[0]
    assert "first decides [0]" in tables[1] and "| both |" in tables[0] and "| one way |" in tables[1]
    assert _row(text, "one way")[4:6] == ["-", "100.0"]  # no review keeps the first clause; all keep the second
