import math

import jax
import pytest

from attnjax.models import build_model, count_params, example_inputs, model_summary, summarize


def _params(config):
    model = build_model(config)
    return jax.eval_shape(model.init, jax.random.key(0), *example_inputs(model.config))["params"]


@pytest.mark.parametrize("model", ["classifier", "seq2seq_transformer", "seq2seq_rnn"])
def test_counts_cover_every_parameter(model):
    params = _params({"model": model, "attention": "additive", "d_model": 16, "num_heads": 2})
    total = sum(math.prod(x.shape) for x in jax.tree.leaves(params))
    assert total > 1000
    for depth in (1, 2, 4):
        assert sum(count_params(params, depth).values()) == total
    table = model_summary(params)
    assert f"{total:,}" in table.splitlines()[-1] and "embed" in table


def test_counts_per_module_are_exact():
    config = {"model": "classifier", "vocab_size": 10, "d_model": 8, "num_heads": 2, "num_classes": 3,
              "attention": "scaled_dot", "pooling": "mean"}
    counts = count_params(_params(config))
    assert counts["embed"] == 10 * 8 and counts["logits"] == 8 * 3 + 3
    with pytest.raises(ValueError, match="depth"):
        count_params({}, depth=0)


def test_summarize_a_config_without_initialising():
    table = summarize({"model": "seq2seq_rnn", "attention": "none", "cell": "gru"}, depth=2)
    assert "decoder/step" in table and "total" in table.splitlines()[-1]
    with pytest.raises(ValueError, match="config.cell='rnn'"):
        summarize({"model": "seq2seq_rnn", "cell": "rnn"})
