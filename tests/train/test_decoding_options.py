"""Summarization decoding: config.eval's constraints reach the decoders (and adding them left
recorded runs' keys alone); evaluation reports the share of repeated trigrams next to ROUGE."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from attnjax.models import build_model, example_inputs
from attnjax.train import default_config, run_key
from attnjax.train.config import as_dict
from attnjax.train.summarization import decode_ids, score_summaries, summarization_evaluate
from attnjax.train.tasks import EvalContext

SOURCE = jnp.array([[5, 9, 3, 7, 0, 0], [8, 8, 2, 14, 11, 6]], jnp.int32)
LENGTH = 12


def _has_repeated_trigram(seq):
    grams = [tuple(seq[j : j + 3]) for j in range(len(seq) - 2)]
    return len(set(grams)) < len(grams)


def _first(seq, token):
    seq = list(seq)
    return seq.index(token) if token in seq else len(seq)


def test_decode_ids_applies_the_configs_constraints():
    # The untrained Transformer of tests/models/test_seq2seq.py loops on a few tokens.
    model = build_model(dict(
        vocab_size=20, d_model=16, num_heads=2, num_layers=2, num_decoder_layers=2, mlp_dim=32, max_length=LENGTH,
        dropout_rate=0.0, model="seq2seq_transformer", attention="additive", positional="sinusoidal",
    ))
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = jax.jit(model.init)(rng, *inputs)["params"]
    eval_config = default_config().eval
    eval_config.max_decode_length = LENGTH
    plain = np.asarray(decode_ids(model, params, SOURCE, eval_config, SimpleNamespace(bos_id=1, eos_id=-1)))
    assert any(_has_repeated_trigram(row.tolist()) for row in plain), plain
    # Both searches get the constraints from one set of keyword arguments: one of each is checked
    # (each decoder compile costs seconds).
    eval_config.no_repeat_ngram_size = 3
    ids = np.asarray(decode_ids(model, params, SOURCE, eval_config, SimpleNamespace(bos_id=1, eos_id=-1)))
    assert not any(_has_repeated_trigram(row) for row in ids.tolist()), ids
    # As EOS, the token the model says first would end the summaries at once.
    eos = int(plain[0, 0])
    eval_config.decode, eval_config.no_repeat_ngram_size, eval_config.min_decode_length = "beam", 0, 4
    ids = np.asarray(decode_ids(model, params, SOURCE, eval_config, SimpleNamespace(bos_id=1, eos_id=eos)))
    assert all(_first(row, eos) >= 4 for row in ids.tolist()), ids


def test_run_keys_of_runs_recorded_before_the_constraints_are_unchanged():
    config = default_config()
    recorded = as_dict(config)  # what a run saved before the fields existed
    del recorded["eval"]["no_repeat_ngram_size"], recorded["eval"]["min_decode_length"]
    del recorded["model"]["coverage"], recorded["model"]["coverage_loss_weight"]
    del recorded["model"]["coverage_start_step"]
    assert run_key(config) == run_key(recorded)
    config.model.coverage = True
    assert run_key(config) != run_key(recorded)
    config.model.coverage_start_step = 5
    assert run_key(config) != run_key(recorded)
    config.model.coverage, config.model.coverage_start_step = False, 0
    config.eval.no_repeat_ngram_size = 3
    assert run_key(config) != run_key(recorded)
    config.eval.no_repeat_ngram_size, config.eval.min_decode_length = 0, 5
    assert run_key(config) != run_key(recorded)


class WordTokenizer:
    """Id ``i`` is the word ``w<i>``; EOS is 2."""

    bos_id, eos_id = 1, 2

    def decode(self, ids):
        return " ".join(f"w{int(i)}" for i in ids)


def test_evaluation_reports_repeated_trigrams_next_to_rouge():
    # Two summaries: "w3 w4 w5 w3 w4 w5" (1 of 4 trigrams repeats) and "w6 w7 w8" (none); the
    # third row is padding and the fourth is never decoded.
    ids = np.array([[3, 4, 5, 3, 4, 5, 2, 0], [6, 7, 8, 2, 0, 0, 0, 0], [3, 3, 3, 3, 3, 2, 0, 0]])
    out = {
        "example_mask": np.array([1, 1, 0]), "loss_sum": np.array([2.0, 4.0, 0.0]), "tokens": np.array([2, 2, 0]),
        "example_index": np.array([0, 1, 0]), "input_length": np.array([5, 5, 0]),
    }
    examples = [{"summary": "w3 w4 w5"}, {"summary": "w6 w7 w8"}]
    context = EvalContext(
        examples=examples, tokenizer=WordTokenizer(), eval_config=default_config().eval, decode=lambda inputs: ids
    )
    result = summarization_evaluate(context, [(out, {"inputs": np.zeros((3, 4), np.int32)})])
    assert result["repeated_trigrams"] == 1 / 5  # pooled: 1 repeat of 4 + 1 trigrams
    assert [r["repeated_trigrams"] for r in result["per_example"]] == [0.25, 0.0]
    assert result["decoded"] == 2 and result["rouge1"] > 0
    # Baselines are scored by the same code.
    metrics, records = score_summaries(["w3 w4 w5 w3 w4 w5", "w6 w7 w8"], examples, 0)
    assert metrics["repeated_trigrams"] == 1 / 5 and [r["repeated_trigrams"] for r in records] == [0.25, 0.0]
