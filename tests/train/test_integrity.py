"""Nothing lost, nothing silently wrong: checkpoint digests, restart rules, unreadable best, checks first."""

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from attnjax.train import read_log, train_and_evaluate
from attnjax.train.checkpoints import ChecksumMismatchError, array_digests, verify_digests
from attnjax.train.workdir import RestartRefusedError
from train_testing import tiny_classification


def final_params(workdir: Path, step: int):
    return ocp.StandardCheckpointer().restore(workdir / "checkpoints" / "latest" / str(step) / "state")["params"]


def assert_bitwise_equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def train_records(workdir: Path) -> list:
    return [(r["step"], r["loss"]) for r in read_log(workdir) if r["split"] == "train"]


def corrupt(step_dir: Path) -> None:
    for path in step_dir.rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a checkpoint")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 8-step run (checkpoints at 4 and 8, evaluations at 4 and 8)."""
    workdir = tmp_path_factory.mktemp("run")
    config = tiny_classification(steps=8)
    return config, workdir, train_and_evaluate(config, workdir)


def unfinished_copy(finished, tmp_path: Path) -> Path:
    """The finished run as if killed after its last checkpoint: no results.json yet."""
    _, workdir, _ = finished
    copy = tmp_path / "run"
    shutil.copytree(workdir, copy)
    (copy / "results.json").unlink()
    return copy


# --- digests -----------------------------------------------------------------------------------


def test_digests_name_the_array_that_changed():
    tree = {"a": jnp.arange(6.0).reshape(2, 3), "b": [jnp.zeros(4, jnp.int32), jax.random.key(0)]}
    meta = {"checksums": {"sha256": array_digests(tree)}}
    verify_digests(tree, meta)
    verify_digests(tree, {})  # a checkpoint written before digests existed is accepted
    changed = {**tree, "a": tree["a"].at[1, 2].set(-1.0)}
    with pytest.raises(ChecksumMismatchError, match=r"1 of 3 arrays .*\['a'\]"):
        verify_digests(changed, meta)
    reshaped = {**tree, "a": tree["a"].reshape(3, 2)}  # same bytes, other shape
    with pytest.raises(ChecksumMismatchError):
        verify_digests(reshaped, meta)


@pytest.mark.slow
def test_4_kib_overwritten_inside_a_data_file_is_detected_and_the_previous_checkpoint_used(tmp_path):
    # Wide enough that the float data is stored nearly raw: orbax then restores changed bytes silently.
    config = tiny_classification(steps=8, model__d_model=32, model__mlp_dim=256)
    first = train_and_evaluate(config, tmp_path / "run")
    workdir = tmp_path / "run"
    expected = final_params(workdir, 8)
    (workdir / "results.json").unlink()
    state_dir = workdir / "checkpoints" / "latest" / "8" / "state"
    clean = jax.tree.leaves(ocp.StandardCheckpointer().restore(state_dir))
    data_file = max((p for p in state_dir.rglob("*") if p.is_file() and p.parent.name == "d"), key=lambda p: p.stat().st_size)
    original, size = data_file.read_bytes(), data_file.stat().st_size

    # The first 4 KiB span (from a quarter in) that orbax restores without an error, values changed.
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    for offset in range(size // 4, size - 4096, 4096):
        data_file.write_bytes(original[:offset] + noise + original[offset + 4096:])
        try:
            restored = jax.tree.leaves(ocp.StandardCheckpointer().restore(state_dir))
        except Exception:  # noqa: BLE001 - orbax notices this one itself; look for one it misses
            continue
        if any((np.asarray(a) != np.asarray(b)).any() for a, b in zip(restored, clean)):
            break
    else:
        pytest.fail(f"no 4 KiB overwrite of {data_file.name} ({size} bytes) restores silently; widen the model")
    assert data_file.stat().st_size == size

    with pytest.warns(RuntimeWarning, match=r"latest/8 could not be restored \(ChecksumMismatchError: SHA-256 of \d+ of"):
        again = train_and_evaluate(config, workdir)
    assert again["resumed_from_step"] == 4
    assert_bitwise_equal(final_params(workdir, 8), expected)
    assert again["validation"] == first["validation"] and again["test"] == first["test"]
    assert [p.name.split("-")[0] for p in (workdir / "checkpoints" / "unreadable").iterdir()] == ["8"]


# --- restart rules -----------------------------------------------------------------------------


def test_after_every_checkpoint_failed_the_second_run_still_refuses_until_restart(finished, tmp_path):
    config, _, reference = finished
    workdir = unfinished_copy(finished, tmp_path)
    for step in (4, 8):
        corrupt(workdir / "checkpoints" / "latest" / str(step))
    with pytest.warns(RuntimeWarning), pytest.raises(RestartRefusedError, match=r"refusing to restart from step 0"):
        train_and_evaluate(config, workdir)
    assert not [p for p in (workdir / "checkpoints" / "latest").iterdir() if p.name.isdigit()]  # all moved aside
    with pytest.raises(RestartRefusedError, match=r"2 unreadable checkpoint\(s\) moved to .*--restart.*--overwrite"):
        train_and_evaluate(config, workdir)  # the second try: nothing left in latest/, still refused
    assert not (workdir / "results.json").exists()

    results = train_and_evaluate(config, workdir, restart=True)
    assert results["resumed_from_step"] == 0
    assert_bitwise_equal(final_params(workdir, 8), final_params(finished[1], 8))
    assert results["best"] == reference["best"] and results["test"] == reference["test"]
    assert train_records(workdir) == train_records(finished[1])  # each step once
    assert len(list((workdir / "checkpoints" / "unreadable").iterdir())) == 3  # 2 latest + the old best, kept


def test_deleted_checkpoints_with_a_log_kept_refuse_and_restart_truncates_the_log(finished, tmp_path):
    config, _, _ = finished
    workdir = unfinished_copy(finished, tmp_path)
    shutil.rmtree(workdir / "checkpoints")
    with pytest.raises(RestartRefusedError, match=r"metrics.jsonl with records up to step 8 .*--restart"):
        train_and_evaluate(config, workdir)
    train_and_evaluate(config, workdir, restart=True)
    assert train_records(workdir) == train_records(finished[1])  # not two records for steps 2..8


def test_a_log_that_stops_before_the_first_checkpoint_starts_again_and_is_truncated(finished, tmp_path):
    config, _, _ = finished
    workdir = unfinished_copy(finished, tmp_path)
    shutil.rmtree(workdir / "checkpoints")
    records = [r for r in read_log(workdir) if r["step"] < 4]  # killed at step 3: nothing was saved yet
    (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    results = train_and_evaluate(config, workdir)
    assert results["resumed_from_step"] == 0
    assert train_records(workdir) == train_records(finished[1])


# --- best checkpoint ---------------------------------------------------------------------------


def test_unreadable_best_falls_back_to_the_final_parameters_re_evaluated(finished, tmp_path):
    config, _, reference = finished
    workdir = unfinished_copy(finished, tmp_path)
    best_step = reference["best"]["step"]
    corrupt(workdir / "checkpoints" / "best" / str(best_step) / "params")
    with pytest.warns(RuntimeWarning, match=r"no readable best checkpoint is left .*testing the final parameters \(step 8\)"):
        results = train_and_evaluate(config, workdir)
    assert results["resumed_from_step"] == 8
    assert results["best"]["step"] == 8 and results["best"]["replaces_unreadable_step"] == best_step
    assert results["best"]["metrics"] == reference["validation"]  # the final parameters, evaluated again
    assert results["test"]["params_from_step"] == 8
    # Saved as the new best: a rerun (results.json removed) tests it without any warning.
    (workdir / "results.json").unlink()
    again = train_and_evaluate(config, workdir)
    assert again["test"] == results["test"]


# --- checks before anything is touched ---------------------------------------------------------


def test_overwrite_with_a_typo_leaves_the_finished_run_intact(finished, tmp_path):
    _, workdir, reference = finished
    before = {str(p.relative_to(workdir)): p.stat().st_mtime_ns for p in workdir.rglob("*")}
    typo = tiny_classification(steps=8)
    typo.model.attention = "additve"
    with pytest.raises(ValueError, match=r"config.model.attention='additve' is not allowed"):
        train_and_evaluate(typo, workdir, overwrite=True)
    data = tmp_path / "stray_label.tsv"
    data.write_text("label\tsentence\n" + "".join(f"{i % 2}\tsentence {i}\n" for i in range(40)) + "-1\tstray\n")
    bad_data = tiny_classification(steps=8)
    bad_data.data.source, bad_data.data.options = str(data), {}
    with pytest.raises(ValueError, match=r"stray_label.tsv: integer labels must be 0..N-1, found \[-1, 0, 1\] \(row 41"):
        train_and_evaluate(bad_data, workdir, overwrite=True)  # fails after the old run was moved aside: put back
    assert {str(p.relative_to(workdir)): p.stat().st_mtime_ns for p in workdir.rglob("*")} == before
    assert not list(workdir.parent.glob(f".{workdir.name}.overwritten*"))
    assert train_and_evaluate(tiny_classification(steps=8), workdir) == json.loads(json.dumps(reference))


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("model.attention", "additve", r"config.model.attention='additve' is not allowed; expected one of: dot"),
        ("model.model", "transfomer", r"config.model.model='transfomer' is not allowed"),
        ("data.tokenizer", "wrod", r"config.data.tokenizer='wrod' is unknown \(did you mean 'word'\?\); expected one of"),
        ("task", "clasification", r"config.task='clasification' is unknown \(did you mean 'classification'"),
        ("eval.best_metric", "acc", r"config.eval.best_metric='acc' is not a classification metric"),
        ("train.eval_every", 0, r"config.train.eval_every=0; expected a positive integer"),
        ("data.source", "tfd:glue/sst2", r"unknown data source kind 'tfd'"),
        ("data.options", {"num_example": 3}, r"unknown option\(s\) \['num_example'\]"),
        ("optimizer.schedule", "cosin", r"config.optimizer.schedule='cosin' is unknown \(did you mean 'cosine'\?\)"),
    ],
)
def test_a_failed_check_writes_nothing(tmp_path, field, value, message):
    config = tiny_classification(steps=8).to_dict()
    *groups, name = field.split(".")
    section = config
    for group in groups:
        section = section[group]
    section[name] = value
    with pytest.raises(ValueError, match=message):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_data_error_leaves_no_config_behind(tmp_path):
    data = tmp_path / "data.tsv"
    data.write_text("sentence\tlabel\nfine\t0\n")
    config = tiny_classification(steps=8)
    config.data.source = str(data)
    with pytest.raises(ValueError):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # so fixing the data needs no --overwrite


def test_unknown_field_is_one_line_naming_section_and_nearest_names():
    with pytest.raises(ValueError) as error:
        train_and_evaluate({"train": {"num_step": 3}}, "/nonexistent/never/created")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("unknown field 'num_step' in config.train; did you mean 'num_steps'")
