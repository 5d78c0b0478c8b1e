"""A third task kind, registered from outside the library, runs a grid end to end: train, table, plots.

Natural language inference in miniature: a record schema (premise, hypothesis, label), how such
records become ids, a built-in data set, and a Task that reuses the classification losses but has
its own text fields, table columns, attention maps and drawing. Nothing else in attnjax or
experiments/ is changed for it.
"""

import dataclasses
import json

import numpy as np
import pytest

from attnjax.data import batching, builtin_datasets, schema
from attnjax.train import TASKS, classification
from experiments import compare

COLOURS = ("red", "blue", "green", "black", "white", "grey")
THINGS = ("cat", "car", "door", "cup", "bird", "hat")


def toy_nli_example(rng):
    """``the <thing> is [really ...] <colour>`` / ``the <thing> is <colour>``: entailment when the colours agree."""
    thing, colour = THINGS[rng.integers(len(THINGS))], COLOURS[rng.integers(len(COLOURS))]
    entails = bool(rng.random() < 0.5)
    other = colour if entails else COLOURS[(COLOURS.index(colour) + 1 + rng.integers(len(COLOURS) - 1)) % len(COLOURS)]
    filler = " ".join(["really"] * int(rng.integers(4)))  # lengths vary, so length_<benchmark> has bins
    return {"premise": f"the {thing} is {filler} {colour}", "hypothesis": f"the {thing} is {other}", "label": int(entails)}


def encode_pairs(rows, tokenizer, max_length, max_target_length):
    del max_target_length
    premises = tokenizer.encode_batch([r["premise"] for r in rows], max_length=max_length)
    hypotheses = tokenizer.encode_batch([r["hypothesis"] for r in rows], max_length=max_length)
    inputs = [np.concatenate([p, h])[:max_length] for p, h in zip(premises, hypotheses)]
    return batching.EncodedExamples(inputs, labels=np.array([r["label"] for r in rows], np.int32))


def pair_maps(run, examples):
    joined = [{"text": f"{e['premise']} {e['hypothesis']}", "label": e["label"]} for e in examples]
    return classification.pooling_maps(run, joined)


DRAWN = []


def draw_weight_profile(maps, title):
    import matplotlib.pyplot as plt

    DRAWN.append(sorted(maps))
    fig, ax = plt.subplots()
    for label, m in maps.items():
        ax.plot(m["examples"][0]["weights"], label=label)
    ax.set_title(f"{title}: attention over premise + hypothesis")
    ax.legend()
    return fig


NLI_TASK = dataclasses.replace(
    TASKS.get("classification"),
    kind="nli",
    text_fields=("premise", "hypothesis"),
    input_field="premise",
    main_metrics=(("accuracy", "acc"), ("macro_f1", "F1")),
    attention_maps=pair_maps,
    draw_attention=draw_weight_profile,
)

GRID = '''
import ml_collections
from attnjax.train import default_config


def get_config():
    config = default_config()
    config.task = "nli"
    config.data.source = "builtin:toy_nli"
    config.data.options = {"num_examples": {"train": 128, "validation": 32, "test": 32}}
    config.data.max_length = 16
    config.data.bucket_lengths = (16,)
    config.model.d_model = 16
    config.model.num_layers = 1
    config.model.mlp_dim = 16
    config.model.max_length = 16
    config.train.batch_size = 16
    config.train.num_steps = 4
    config.train.log_every = 2
    config.train.eval_every = 2
    config.train.checkpoint_every = 4
    config.eval.batch_size = 32
    config.optimizer.warmup_steps = 1
    grid = ml_collections.ConfigDict()
    grid.name = "toy NLI"
    grid.variants = ("none", "scaled_dot")
    grid.seeds = (0,)
    grid.heads = 2
    grid.split = "test"
    grid.benchmarks = {"pairs": config}
    return grid
'''


@pytest.fixture
def nli_registered(monkeypatch):
    """The four registrations a new task kind needs, undone after the test."""
    monkeypatch.setitem(
        schema.SCHEMAS._items, "nli",
        schema.Schema("nli", ("premise", "hypothesis", "label"),
                         {"premise": ("premise",), "hypothesis": ("hypothesis",), "label": ("label",)}),
    )
    monkeypatch.setitem(batching.EXAMPLE_ENCODERS._items, "nli", encode_pairs)
    monkeypatch.setitem(
        builtin_datasets.BUILTIN_DATASETS._items, "toy_nli", builtin_datasets.BuiltinDataset("nli", toy_nli_example, ("no", "yes"))
    )
    monkeypatch.setitem(TASKS._items, "nli", NLI_TASK)


def test_a_registered_task_kind_trains_tables_and_plots(nli_registered, tmp_path):
    grid_file = tmp_path / "toy_nli_grid.py"
    grid_file.write_text(GRID)
    results = tmp_path / "results"
    assert compare.main(["--config", str(grid_file), "--results", str(results), "--workers", "1"]) == 0

    records = [json.loads(line) for line in (results / "runs.jsonl").read_text().splitlines()]
    assert [(r["variant"], r["status"]) for r in records] == [("none", "ok"), ("scaled_dot", "ok")]
    assert all(0 <= r["test"]["accuracy"] <= 1 and "macro_f1" in r["test"] for r in records)
    maps = json.loads((results / records[1]["workdir"] / "attention.json").read_text())
    assert maps["kind"] == "nli" and len(maps["examples"]) == 3
    assert maps["examples"][0]["tokens"][:2] == ["the", maps["examples"][0]["tokens"][1]]

    markdown = (results / "table.md").read_text()
    assert "| variant | pairs acc | pairs F1 | pairs Δacc vs scaled_dot [95% CI] |" in markdown
    assert DRAWN == [["scaled_dot"]]  # the task's own drawing; "none" has no attention to draw
    for name in ("learning_curves", "attention_pairs", "length_pairs"):
        assert (results / "plots" / f"{name}.png").stat().st_size > 1000
