"""load_run: a finished run's config, model, tokenizer and parameters read back from its workdir."""

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attnjax.data import BatchIterator, encode_examples, load_split
from attnjax.train import LoadedRun, complete, load_run, read_log, train_and_evaluate
from attnjax.train.config import as_dict
from train_testing import tiny_classification


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("run")
    config = tiny_classification(steps=12)
    return config, workdir, train_and_evaluate(config, workdir)


def files_of(workdir: Path) -> set:
    return {str(p.relative_to(workdir)) for p in workdir.rglob("*")}


def validation_metrics(run: LoadedRun) -> dict:
    """Accuracy and mean loss on the run's validation split, batched as the training loop evaluates it."""
    data = run.config.data
    examples = load_split(data.source, data.eval_split, **data.options.to_dict())
    batches = BatchIterator(
        encode_examples(examples, run.tokenizer, data.max_length), run.config.eval.batch_size,
        bucket_lengths=data.bucket_lengths, shuffle=False, drop_remainder=False, num_epochs=1,
    )
    logits_of = jax.jit(lambda params, inputs: run.model.apply({"params": params}, inputs))
    correct = loss = total = 0.0
    for batch in batches:
        logits = logits_of(run.params, batch["inputs"])
        mask = batch["example_mask"].astype(bool)
        losses = np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]))
        correct += (np.asarray(jnp.argmax(logits, -1)) == batch["labels"])[mask].sum()
        loss += losses[mask].sum()
        total += mask.sum()
    return {"accuracy": correct / total, "loss": loss / total}


def test_best_has_the_best_step_parameters(finished):
    config, workdir, results = finished
    before = files_of(workdir)
    run = load_run(workdir)
    assert run.which == "best" and run.step == results["best"]["step"]
    # The loss pins the parameters down (12 tiny steps leave the accuracy at the majority class).
    recorded = results["best"]["metrics"]
    measured = validation_metrics(run)
    assert measured["accuracy"] == recorded["accuracy"]
    assert measured["loss"] == pytest.approx(recorded["loss"], rel=1e-6)
    assert files_of(workdir) == before  # reading changes nothing


def test_latest_has_the_final_parameters(finished):
    _, workdir, results = finished
    run = load_run(str(workdir), which="latest")
    assert run.which == "latest" and run.step == 12
    recorded, measured = results["validation"], validation_metrics(run)  # evaluated at step 12
    assert measured["accuracy"] == recorded["accuracy"]
    assert measured["loss"] == pytest.approx(recorded["loss"], rel=1e-6)
    if results["best"]["step"] != 12:
        assert measured["loss"] != pytest.approx(results["best"]["metrics"]["loss"], rel=1e-6)


def test_config_tokenizer_results_and_log(finished):
    config, workdir, results = finished
    run = load_run(workdir)
    assert as_dict(run.config) == as_dict(complete(config))
    assert run.model_config.vocab_size == run.tokenizer.vocab_size
    assert run.model_config.d_model == config.model.d_model == 16
    assert run.results == json.loads(json.dumps(results))
    assert run.log == list(read_log(workdir)) and run.log[-1]["split"] == "test"
    assert jax.tree.structure(run.params) == jax.tree.structure(load_run(workdir, "latest").params)


def test_encode_pads_texts_for_the_model(finished):
    _, workdir, _ = finished
    run = load_run(workdir)
    texts = ["the plot was not very good", "the acting is great , but the story is dull"]
    inputs = run.encode(texts)
    assert inputs.dtype == np.int32 and inputs.shape[0] == 2
    assert (inputs[0] == 0).any() and not (inputs[1] == 0).any()  # the shorter one is padded
    assert run.model.apply({"params": run.params}, inputs).shape == (2, 2)
    with pytest.raises(ValueError, match="texts must be a non-empty sequence of strings"):
        run.encode("one string")


def test_bad_which_and_missing_run(tmp_path):
    with pytest.raises(ValueError, match=r"which='final'; expected one of: 'best', 'latest'"):
        load_run(tmp_path / "anything", which="final")
    with pytest.raises(FileNotFoundError, match=r"holds no run: expected config.json there"):
        load_run(tmp_path)


def test_no_checkpoint_yet(finished, tmp_path):
    _, workdir, _ = finished
    shutil.copytree(workdir, tmp_path / "run")
    shutil.rmtree(tmp_path / "run" / "checkpoints")
    with pytest.raises(FileNotFoundError, match=r"no best checkpoint in .*has not reached its first evaluation"):
        load_run(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match=r"no latest checkpoint in .*its first checkpoint"):
        load_run(tmp_path / "run", which="latest")


def corrupt(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a checkpoint")


def test_unreadable_checkpoints_are_skipped_or_reported_never_moved(finished, tmp_path):
    _, workdir, results = finished
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    latest = run_dir / "checkpoints" / "latest"
    corrupt(latest / "12" / "state")
    with pytest.warns(RuntimeWarning, match=r"latest/12 could not be restored .*\); trying the previous one"):
        assert load_run(run_dir, "latest").step == 8
    corrupt(latest / "8" / "state")
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match=r"none of the checkpoints .*\(steps \[12, 8\]\)\. Errors"):
        load_run(run_dir, "latest")
    assert sorted(p.name for p in latest.iterdir() if p.name.isdigit()) == ["12", "8"]
    assert not (run_dir / "checkpoints" / "unreadable").exists()

    best = run_dir / "checkpoints" / "best" / str(results["best"]["step"])
    corrupt(best / "params")
    with pytest.raises(RuntimeError, match=r"best checkpoint .* could not be restored .*which='latest'"):
        load_run(run_dir)
