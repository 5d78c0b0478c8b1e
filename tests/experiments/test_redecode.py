"""experiments/redecode.py: a finished summarization run decoded again with other settings."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from attnjax.train import train_and_evaluate
from experiments import redecode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from train_testing import tiny_summarization  # noqa: E402


def test_reattention_is_the_coverage_loss_of_the_decoded_steps():
    # Step 0 covers nothing; step 1 re-attends position 0 with 0.5 (its coverage there is 1);
    # step 2 attends position 2, which nobody attended; the padded step 3 is not counted.
    weights = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert redecode.reattention(weights, 3) == pytest.approx((0.0 + 0.5 + 0.0) / 3)
    assert redecode.reattention(weights, 0) == 0.0


@pytest.mark.slow
def test_runs_are_decoded_again_with_blocking_off_and_compared(tmp_path, capsys):
    config = tiny_summarization(steps=4, model__model="seq2seq_rnn", model__attention="dot", model__cell="lstm",
                                eval__no_repeat_ngram_size=3)
    train_and_evaluate(config, tmp_path / "a")
    out = tmp_path / "numbers.json"
    assert redecode.main([str(tmp_path / "a"), str(tmp_path / "a"), "--count", "5", "--batch-size", "4",
                          "--no-repeat-ngram-size", "0", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = json.loads(lines[0])
    assert first["decoded"] == 5 and 0.0 <= first["rouge1"] <= 100.0 and 0.0 <= first["reattention"] <= 1.0
    assert "+0.00 [+0.00, +0.00] over 5 articles" in lines[2]  # a run against itself
    saved = json.loads(out.read_text())
    assert saved["changes"] == {"no_repeat_ngram_size": 0}
    assert [r["index"] for r in saved["runs"][str(tmp_path / "a")]["records"]] == [0, 1, 2, 3, 4]
    # --stored pairs what evaluation decoded (eval.max_decode_examples of them) without decoding.
    assert redecode.main([str(tmp_path / "a"), str(tmp_path / "a"), "--stored", "--count", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1].split(" -")[0] for line in lines] == ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    assert all(line.endswith("+0.00 [+0.00, +0.00] over 5 articles") for line in lines)
    with pytest.raises(SystemExit):
        redecode.main([str(tmp_path / "a"), "--stored", "--no-repeat-ngram-size", "0"])


def test_a_directory_without_a_run_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        redecode.main([str(tmp_path)])


def test_a_model_that_sows_nothing_gives_no_intermediates():
    # attention="none" sows no weights; the maps and redecode's re-attention then have nothing (not a KeyError).
    import jax

    from attnjax.models import build_model, example_inputs
    from attnjax.train.tasks import forward_with_intermediates

    model = build_model(dict(model="seq2seq_rnn", attention="none", cell="lstm", vocab_size=20, d_model=8, max_length=8))
    inputs = example_inputs(model.config)
    params = model.init(jax.random.key(0), *inputs)["params"]
    out, intermediates = forward_with_intermediates(model, params, *inputs)
    assert intermediates == {} and out.shape[-1] == 20


@pytest.mark.slow
def test_a_run_without_attention_is_decoded_again_with_no_reattention(tmp_path, capsys):
    config = tiny_summarization(steps=2, model__model="seq2seq_rnn", model__attention="none", model__cell="lstm")
    train_and_evaluate(config, tmp_path / "none")
    assert redecode.main([str(tmp_path / "none"), "--count", "3", "--batch-size", "4", "--min-decode-length", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary["decoded"] == 3 and summary["reattention"] is None and 0.0 <= summary["rouge1"] <= 100.0
