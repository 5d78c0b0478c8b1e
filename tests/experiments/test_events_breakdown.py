"""experiments/events_breakdown.py: recall of each kind of builtin:salient_events summary word, from stored runs."""

import json

import pytest

from attnjax.data.builtin_datasets import generate
from experiments import events_breakdown

SIZES = {"train": 10, "validation": 10, "test": 40}


def _results(tmp_path, runs):
    """A results directory whose runs decoded ``runs[label](reference)`` for each test summary."""
    summaries = [e["summary"] for e in generate("salient_events", "test", SIZES["test"])]
    records = []
    for seed, (label, decode) in enumerate(runs.items()):
        workdir = tmp_path / "runs" / f"run{seed}"
        workdir.mkdir(parents=True)
        (workdir / "predictions_test.jsonl").write_text("".join(
            json.dumps({"index": i, "prediction": decode(s), "rouge1": 10.0 * seed}) + "\n" for i, s in enumerate(summaries)
        ))
        records.append({"status": "ok", "seed": seed, "task": "events", "variant": label, "label": label,
                        "workdir": f"runs/run{seed}",
                        "config": {"data": {"source": "builtin:salient_events", "options": {"num_examples": SIZES}}}})
    records.append({"status": "ok", "seed": 0, "task": "sentiment", "variant": "x", "workdir": "runs/none",
                    "config": {"data": {"source": "builtin:sentiment", "options": {}}}})  # not events: skipped
    (tmp_path / "grid.json").write_text("{}")
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return summaries


def _row(text, label):
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_word_recall_clips_counts_by_kind():
    agent, verb, obj, place = (events_breakdown.MANY_AGENTS[0], events_breakdown.EVENT_VERBS[0],
                               events_breakdown.OBJECTS[0], events_breakdown.PLACES[0])
    reference = f"the {agent} {verb} the {obj} near the {place}"
    recall = events_breakdown.word_recall(reference, f"the {agent} {agent} the {place} the")
    assert recall == {"agents": (1, 1), "verbs": (0, 1), "objects": (0, 1), "places": (1, 1),
                      "template words": (3, 4)}  # 'the' three times of three, 'near' missed


def test_copying_and_template_runs(tmp_path):
    summaries = _results(tmp_path, {
        "copies": lambda s: s,
        "template": lambda s: " ".join(w for w in s.split() if events_breakdown.kind_of(w) == "template words"),
    })
    text = events_breakdown.breakdown(tmp_path)
    header = next(line for line in text.splitlines() if line.startswith("| run |"))
    agents = sum(events_breakdown.kind_of(w) == "agents" for s in summaries for w in s.split())
    assert f"agents [{agents}]" in header and f"R-1 [{len(summaries)}]" in header and agents == 2 * len(summaries)
    copies, template = _row(text, "copies"), _row(text, "template")
    assert copies[:3] == ["copies", "0", "0.0"] and copies[4:] == ["100.0"] * 5
    assert float(copies[3]) == pytest.approx(sum(len(s.split()) for s in summaries) / len(summaries), abs=0.05)
    assert template[2] == "10.0" and template[4:] == ["0.0"] * 4 + ["100.0"]
    assert "sentiment" not in text and "| x |" not in text


def test_a_directory_without_events_runs_or_predictions_fails_clearly(tmp_path, capsys):
    (tmp_path / "grid.json").write_text("{}")
    (tmp_path / "runs.jsonl").write_text("")
    assert events_breakdown.main([str(tmp_path)]) == 2
    assert "holds no finished runs trained on builtin:salient_events" in capsys.readouterr().err
    _results(tmp_path / "r", {"a": lambda s: s})
    assert events_breakdown.main([str(tmp_path / "r"), "--split", "validation"]) == 2
    assert "has no predictions_validation.jsonl" in capsys.readouterr().err
