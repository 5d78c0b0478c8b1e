"""experiments/compare.py and table.py: the grid trains, resumes, records failures and rebuilds tables."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from attnjax.train import provenance
from experiments import compare, table
from experiments import grid as grid_lib

TINY_GRID = '''
import ml_collections
from attnjax.train import default_config


def task(source, steps=4):
    config = default_config()
    config.data.source = source
    config.data.options = {"num_examples": {"train": 256, "validation": 48, "test": 48}} if source.startswith("builtin") else {}
    config.data.max_length = 32
    config.data.bucket_lengths = (32,)
    config.model.d_model = 16
    config.model.num_layers = 1
    config.model.mlp_dim = 16
    config.model.pooling = "attention"
    config.model.max_length = 32
    config.train.batch_size = 16
    config.train.num_steps = steps
    config.train.log_every = 2
    config.train.eval_every = 2
    config.train.checkpoint_every = 4
    config.eval.batch_size = 48
    config.optimizer.warmup_steps = 1
    return config


def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "tiny"
    grid.variants = ("none", "multihead_additive", "scaled_dot")
    grid.seeds = (0, 1)
    grid.heads = 2
    grid.split = "test"
    grid.benchmarks = {"sentiment": task("builtin:sentiment"), "broken": task("BROKEN_PATH")}
    return grid
'''


def _grid_file(tmp_path) -> Path:
    path = tmp_path / "tiny_grid.py"
    path.write_text(TINY_GRID.replace("BROKEN_PATH", str(tmp_path / "missing.jsonl")))
    return path


def test_variants_set_attention_and_heads():
    base = grid_lib.complete({"model": {"pooling": "attention"}})
    single = grid_lib.VARIANTS.get("additive").apply(base, heads=4)
    multi = grid_lib.VARIANTS.get("multihead_additive").apply(base, heads=4)
    none = grid_lib.VARIANTS.get("none").apply(base, heads=4)
    assert (single.model.attention, single.model.num_heads) == ("additive", 1)
    assert (multi.model.attention, multi.model.num_heads) == ("additive", 4)
    assert (none.model.attention, none.model.pooling) == ("none", "mean")  # no attention pooling either
    assert base.model.pooling == "attention"  # the base config is not modified
    with pytest.raises(ValueError, match="unknown attention variant 'flash'.*multihead_scaled_dot"):
        grid_lib.VARIANTS.get("flash")


def test_expand_and_overrides(tmp_path):
    grid = grid_lib.load_grid(_grid_file(tmp_path))
    specs = grid_lib.expand(grid, benchmarks=["sentiment"], overrides=[("train.num_steps", 2), ("data.options.seed", 3)])
    assert [(s.variant, s.seed) for s in specs] == [(v, s) for v in grid.variants for s in (0, 1)]
    assert {s.config.train.num_steps for s in specs} == {2} and specs[0].config.data.options.seed == 3
    assert len({s.key for s in specs}) == len(specs)  # every run has its own workdir
    with pytest.raises(ValueError, match="unknown field 'num_stepz'"):
        grid_lib.expand(grid, overrides=[("train.num_stepz", 2)])
    with pytest.raises(ValueError, match="unknown benchmark 'imdb'"):
        grid_lib.expand(grid, benchmarks=["imdb"])


def test_a_row_that_changes_a_field_the_model_ignores_is_refused_before_training(tmp_path, capsys):
    grid = grid_lib.load_grid(_grid_file(tmp_path))
    # The pointer ablation on a classifier would train a copy of scaled_dot under another name.
    with pytest.raises(ValueError, match=r"'scaled_dot_no_pointer'.*'seq2seq_rnn' or 'seq2seq_transformer'.*'sentiment' trains 'classifier'"):
        grid_lib.expand(grid, variants=["scaled_dot", "scaled_dot_no_pointer"], benchmarks=["sentiment"])
    assert [s.variant for s in grid_lib.expand(grid, variants=["scaled_dot_k256"], seeds=[0], benchmarks=["sentiment"])] == ["scaled_dot_k256"]
    results = tmp_path / "results"
    assert compare.main(["--config", str(_grid_file(tmp_path)), "--tasks", "sentiment", "--variants", "scaled_dot_no_pointer",
                         "--results", str(results)]) != 0
    assert "scaled_dot_no_pointer" in capsys.readouterr().err and not (results / "runs").exists()


def test_command_line_config_flags_and_shorthands(tmp_path, capsys):
    flag_values = compare.parse_flags(["--preset", "sst2", "--config.seeds=0,1", "--config.variants=dot,additive"])
    assert flag_values.config.seeds == (0, 1) and flag_values.config.variants == ("dot", "additive")
    assert compare.results_dir(flag_values) == Path("results") / "sst2"
    assert compare.results_dir(compare.parse_flags([])) == Path("results")  # the built-in grid
    grid_file = _grid_file(tmp_path)
    args = ["--config", str(grid_file), "--config.benchmarks.sentiment.train.num_steps=3", "--tasks", "sentiment",
            "--seeds", "1", "--variants", "none,scaled_dot", "--set", "train.batch_size=8", "--results", str(tmp_path)]
    assert compare.main(args + ["--dry-run"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("-")[0] for line in listed] == ["sentiment/none/seed1", "sentiment/scaled_dot/seed1"]
    flag_values = compare.parse_flags(args)
    specs = grid_lib.expand(flag_values.config, benchmarks=["sentiment"], overrides=compare.overrides(flag_values))
    assert {(s.config.train.num_steps, s.config.train.batch_size) for s in specs} == {(3, 8)}
    assert compare.main(["--preset", "sst2", "--config", str(grid_file)]) == 2
    assert "give one of them" in capsys.readouterr().err


def test_bad_arguments_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        grid_lib.load_grid(tmp_path / "nope.py")
    with pytest.raises(ValueError, match="--workers='0'"):
        compare.worker_count("0")
    with pytest.raises(FileNotFoundError, match="no comparison results"):
        table.build(tmp_path)


def test_paired_bootstrap_interval(tmp_path):
    # Two seeds of a run that is right on 60% of the examples where the reference is right on 50%.
    rng = np.random.default_rng(1)
    runs, reference = [], []
    for seed in (0, 1):
        for name, rate, into in (("a", 0.6, runs), ("ref", 0.5, reference)):
            workdir = tmp_path / f"{name}{seed}"
            workdir.mkdir()
            correct = rng.random(2000) < rate
            (workdir / "predictions_test.jsonl").write_text(
                "".join(json.dumps({"index": i, "correct": float(c)}) + "\n" for i, c in enumerate(correct))
            )
            into.append({"status": "ok", "seed": seed, "workdir": workdir.name})
    mean, low, high = table.paired_bootstrap(tmp_path, runs, reference, "test", "correct", 100.0)  # fractions -> points
    assert low < mean < high and low < 10 < high and 0 < low  # about +10 points, clearly above 0
    assert table.paired_bootstrap(tmp_path, runs, reference, "test", "correct", 100.0) == (mean, low, high)  # seeded


@pytest.mark.slow
def test_grid_runs_records_failures_resumes_and_rebuilds_tables(tmp_path, capsys):
    results = tmp_path / "results"
    args = ["--config", str(_grid_file(tmp_path)), "--results", str(results), "--workers", "1"]
    assert compare.main(args) == 1  # the broken task's runs failed; the grid went on
    records = [json.loads(line) for line in (results / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 12
    ok = [r for r in records if r["status"] == "ok"]
    failed = [r for r in records if r["status"] == "failed"]
    assert {r["task"] for r in ok} == {"sentiment"} and len(ok) == 6
    assert {r["task"] for r in failed} == {"broken"} and all("missing.jsonl" in r["error"] for r in failed)
    assert all((results / r["workdir"] / "error.json").exists() for r in failed)
    for r in ok:  # every run's config, metrics and timings
        assert r["config"]["model"]["attention"] in ("none", "scaled_dot", "additive")
        assert 0 <= r["test"]["accuracy"] <= 1 and r["timing"]["wall_seconds"] > 0 and r["num_params"] > 0
    maps = json.loads((results / ok[2]["workdir"] / "attention.json").read_text())  # multi-head additive, seed 0
    assert maps["kind"] == "classification" and len(maps["examples"]) == 3
    assert all(abs(sum(e["weights"]) - 1) < 1e-3 and len(e["weights"]) == len(e["tokens"]) for e in maps["examples"])

    markdown = (results / "table.md").read_text()
    assert "| scaled_dot |" in markdown and "| multi-head additive |" in markdown and "[95% CI]" in markdown
    assert "broken / none (no attention) / seed 0: FileNotFoundError" in markdown
    assert f"Code: every run was trained by attnjax {provenance.describe(provenance.code_version())}." in markdown
    assert "\\begin{tabular}" in (results / "table.tex").read_text()
    assert (results / "table.csv").read_text().count("\nsentiment,") == 3
    for name in ("learning_curves", "attention_sentiment", "length_sentiment"):
        assert (results / "plots" / f"{name}.png").stat().st_size > 1000

    tables = {name: (results / name).read_bytes() for name in ("table.md", "table.csv", "table.tex")}
    grid_meta = (results / "grid.json").read_text()
    trained = {r["name"]: (results / r["workdir"] / "results.json").stat().st_mtime_ns for r in ok}
    # Nothing left to train: the unchanged results files say so (a wall-clock bound would fail on a loaded machine).
    assert compare.main(args + ["--tasks", "sentiment"]) == 0
    assert trained == {r["name"]: (results / r["workdir"] / "results.json").stat().st_mtime_ns for r in ok}

    # The failed task dropped out of runs.jsonl above; put it back and rebuild from storage alone.
    (results / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (results / "grid.json").write_text(grid_meta)
    for name in tables:
        (results / name).unlink()
    table.build(results, plots=False)
    assert {name: (results / name).read_bytes() for name in tables} == tables


def _prediction_runs(tmp_path, rates: dict, seeds=(0, 1), n=2000) -> list[dict]:
    """Stored classification runs whose per-example correctness is drawn at ``rates[variant]``."""
    rng = np.random.default_rng(2)
    runs = []
    for variant, rate in rates.items():
        for seed in seeds:
            workdir = tmp_path / "runs" / f"{variant}{seed}"
            workdir.mkdir(parents=True)
            correct = rng.random(n) < rate
            (workdir / "predictions_test.jsonl").write_text(
                "".join(json.dumps({"index": i, "correct": float(c)}) + "\n" for i, c in enumerate(correct))
            )
            runs.append({
                "status": "ok", "seed": seed, "task": "toy", "variant": variant, "workdir": f"runs/{variant}{seed}",
                "test": {"accuracy": float(correct.mean())}, "config": {"task": "classification"},
            })
    return runs


def test_contrasts_state_the_paired_difference_and_whether_it_agrees_with_the_paper(tmp_path):
    runs = _prediction_runs(tmp_path, {"none": 0.5, "scaled_dot": 0.8, "additive": 0.8, "dot": 0.9})
    contrast = lambda variant, baseline, expected: dict(  # noqa: E731
        benchmark="toy", variant=variant, baseline=baseline, expected=expected, reference="Paper 2017", claim="a claim",
    )
    meta = {"split": "test", "contrasts": {
        "attention vs none": contrast("scaled_dot", "none", 1),
        "same": contrast("additive", "scaled_dot", 0),
        "reversed": contrast("none", "scaled_dot", 1),
        "expected worse": contrast("dot", "scaled_dot", -1),
        "missing": contrast("cosine", "none", 1),
    }}
    rows = {r["name"]: r for r in table.contrast_rows(tmp_path, meta, runs)}
    mean, low, high = rows["attention vs none"]["paired"]
    assert 27 < mean < 33 and 0 < low < mean < high  # 80% - 50% = +30 points
    assert rows["attention vs none"]["verdict"] == "agrees"
    assert rows["same"]["paired"][1] < 0 < rows["same"]["paired"][2]
    assert rows["same"]["verdict"] == "agrees (no difference resolved)"
    assert rows["reversed"]["verdict"] == "opposite direction"
    assert rows["expected worse"]["verdict"] == "opposite direction"  # dot is ahead, the paper said behind
    assert rows["missing"]["verdict"] == "not trained" and rows["missing"]["paired"] is None
    text = table.contrasts_markdown(list(rows.values()), {"scaled_dot": "scaled_dot", "none": "none (no attention)"})
    assert "| attention vs none | toy | scaled_dot - none (no attention) | acc +" in text and "Paper 2017: a claim | agrees |" in text
    # Each seed's own difference, from the stored predictions, beside the pooled interval.
    for name, variant, baseline in (("attention vs none", "scaled_dot", "none"), ("reversed", "none", "scaled_dot")):
        expected = []
        for seed in (0, 1):
            a, b = (np.array([json.loads(line)["correct"] for line in (tmp_path / "runs" / f"{v}{seed}" / "predictions_test.jsonl")
                                  .read_text().splitlines()]) for v in (variant, baseline))
            expected.append((seed, 100 * (a.mean() - b.mean())))
        got = rows[name]["per_seed"]
        assert [s for s, _ in got] == [0, 1]
        np.testing.assert_allclose([d for _, d in got], [d for _, d in expected], atol=1e-9)
        assert np.isclose(np.mean([d for _, d in got]), rows[name]["paired"][0])
        assert f"| {', '.join(f'{d:+.1f}' for _, d in got)} |" in text
    assert rows["missing"]["per_seed"] == []


def test_verdict_rules():
    assert table.verdict(1, (2.0, 1.0, 3.0)) == "agrees"
    assert table.verdict(1, (0.5, -1.0, 2.0)) == "not resolved (the interval includes 0)"
    assert table.verdict(-1, (-2.0, -3.0, -1.0)) == "agrees"
    assert table.verdict(0, (2.0, 1.0, 3.0)) == "differs: variant ahead"
    assert table.verdict(0, (-2.0, -3.0, -1.0)) == "differs: variant behind"
    assert table.verdict(0, (0.9, 0.5, 1.4), margin=2.0) == "agrees (within ±2)"
    assert table.verdict(0, (-3.7, -5.4, -2.1), margin=2.0) == "differs: variant behind"
    assert table.verdict(0, (0.5, -1.0, 2.0), margin=2.0) == "agrees (no difference resolved)"


def test_grid_file_checks_benchmark_variants_and_contrasts(tmp_path):
    grid = grid_lib.load_grid(compare.CONFIG_DIR / "compare_builtin.py")
    specs = grid_lib.expand(grid)
    by_benchmark = {}
    for spec in specs:
        by_benchmark.setdefault(spec.benchmark, set()).add(spec.variant)
    for benchmark, names in grid.benchmark_variants.items():
        assert by_benchmark[benchmark] == set(names)
    no_pointer = next(s for s in specs if s.variant == "scaled_dot_no_pointer")
    assert no_pointer.config.model.pointer is False and no_pointer.config.model.attention == "scaled_dot"
    names = list(grid_lib.contrasts(grid))
    assert names == sorted(names) and [n.split(":")[0] for n in names] == ["1", "1", "2", "2", "3", "4", "5"]  # findings 1-5
    bad = copy.deepcopy(grid)
    bad.contrasts["typo"] = dict(benchmark="sentiment", variant="scaled_dot", baseline="nonesuch", reference="x")
    with pytest.raises(ValueError, match="contrast 'typo': unknown attention variant 'nonesuch'"):
        grid_lib.check_grid(bad, "grid.py")
    bad = copy.deepcopy(grid)
    bad.benchmark_variants = {"nowhere": ("dot",)}
    with pytest.raises(ValueError, match="'nowhere', which is not a benchmark"):
        grid_lib.check_grid(bad, "grid.py")
    # A row asked for by name is trained where the grid lists it, and refused where it lists it nowhere.
    assert {s.benchmark for s in grid_lib.expand(grid, variants=["scaled_dot"])} == {"sentiment", "events"}
    assert {s.benchmark for s in grid_lib.expand(grid, variants=["additive"])} == {"sentiment"}
    with pytest.raises(ValueError, match=r"variant 'dot' is not a row of benchmark\(s\) 'sentiment'.*sentiment: none, "):
        grid_lib.expand(grid, variants=["dot"], benchmarks=["sentiment"])


def _code(digest: str, commit: str = "c" * 40) -> dict:
    return {"attnjax": "0.1.0", "source_sha256": digest * 64, "git_commit": commit, "git_dirty": False}


def test_reused_runs_from_other_code_are_named_with_how_to_retrain(tmp_path):
    current = _code("a")
    stored = {
        "sentiment/scaled_dot/seed0-k": {"code": _code("a", "d" * 40)},  # same sources, another commit: current
        "sentiment/additive/seed0-k": {"code": _code("b")},
        "sentiment/additive/seed1-k": {},  # stored before runs recorded their code
    }
    warning = compare.other_code_warning(stored, tmp_path, current)
    assert warning.startswith(f"note: 2 of the 3 finished runs reused from {tmp_path}/runs were trained by other code")
    assert "sentiment/additive/seed0-k (sources bbbbbbbbbbbb (git cccccccccccc))" in warning
    assert "sentiment/additive/seed1-k (code not recorded" in warning and "scaled_dot" not in warning
    assert "delete their directories or pass --results a new directory" in warning
    assert compare.other_code_warning({"sentiment/scaled_dot/seed0-k": {"code": current}}, tmp_path, current) is None
    many = {f"run{i}": {"code": _code("b")} for i in range(compare.NAMED_RUNS + 3)}
    assert ", and 3 more." in compare.other_code_warning(many, tmp_path, current)


def test_table_says_which_code_trained_its_rows():
    run = lambda variant, seed, code: {  # noqa: E731
        "status": "ok", "task": "sentiment", "variant": variant, "label": variant, "seed": seed, "code": code,
    }
    same = [run("scaled_dot", s, _code("a")) for s in (0, 1)] + [run("additive", 0, _code("a", "d" * 40))]
    assert table.code_note(same) == (
        "\nCode: every run was trained by attnjax sources aaaaaaaaaaaa (git cccccccccccc) / sources aaaaaaaaaaaa "
        "(git dddddddddddd).\n"
    )
    mixed = [run("scaled_dot", 1, _code("a")), run("scaled_dot", 0, _code("a")), run("additive", 0, _code("b")),
             run("additive", 1, None), {"status": "failed", "task": "sentiment", "variant": "cosine", "seed": 0}]
    note = table.code_note(mixed)
    assert "**Rows from different code**: these runs were trained by 3 versions" in note
    assert "- sources aaaaaaaaaaaa (git cccccccccccc): sentiment / scaled_dot (seeds 0, 1)\n" in note
    assert "- sources bbbbbbbbbbbb (git cccccccccccc): sentiment / additive (seeds 0)\n" in note
    assert "- code not recorded (trained before runs stored it): sentiment / additive (seeds 1)\n" in note
    assert "cosine" not in note  # a failed run trained nothing
    assert table.code_note([]) == ""
