import dataclasses

import pytest

from attnjax.models import MODELS, ModelConfig, build_model, to_config, validate
from attnjax.ops import list_scores


@pytest.mark.parametrize(
    "overrides,field,allowed",
    [
        (dict(model="rnnlm"), "model", "classifier, seq2seq_rnn, seq2seq_transformer"),
        (dict(attention="softmax"), "attention", ", ".join(list_scores() + ("none",))),
        (dict(num_heads=3, d_model=32), "num_heads", "1, 2, 4, 8, 16, 32"),
        (dict(d_model=-8), "d_model", "positive integer"),
        (dict(vocab_size=0), "vocab_size", "positive integer"),
        (dict(num_layers=-1), "num_layers", "positive integer"),
        (dict(mlp_dim=2.5), "mlp_dim", "positive integer"),
        (dict(dropout_rate=1.0), "dropout_rate", "[0, 1)"),
        (dict(encoder="cnn"), "encoder", "transformer, lstm, gru, bag"),
        (dict(ngram_buckets=-1), "ngram_buckets", "positive number of hash buckets"),
        (dict(pooling="max"), "pooling", "cls, mean, attention, structured"),
        (dict(positional="alibi"), "positional", "sinusoidal, learned, rotary, none"),
        (dict(attention="none", pooling="attention"), "pooling", "mean"),
        (dict(attention="none", pooling="cls"), "pooling", "mean"),
        (dict(model="seq2seq_transformer", attention="none"), "attention", "scaled_dot"),
        (dict(model="seq2seq_rnn", cell="rnn"), "cell", "lstm, gru"),
        (dict(model="seq2seq_rnn", attention="none", pointer=True), "attention", "additive"),
        (dict(pad_id=40, vocab_size=32), "pad_id", "vocab_size"),
        (dict(unk_id=32, vocab_size=32), "unk_id", "vocab_size"),
        (dict(word_dropout_rate=-0.1), "word_dropout_rate", "[0, 1)"),
        (dict(embedding_dropout_rate=1.0), "embedding_dropout_rate", "[0, 1)"),
        (dict(embed_dim=0), "embed_dim", "None or a positive integer"),
        (dict(encoder_dropout_rate=1.0), "encoder_dropout_rate", "[0, 1)"),
        (dict(head_hidden=-1), "head_hidden", "hidden width for an MLP head"),
        (dict(head_hidden=True), "head_hidden", "hidden width for an MLP head"),
        (dict(adversarial_epsilon=-0.5), "adversarial_epsilon", "finite number >= 0"),
        (dict(adversarial_epsilon=float("inf")), "adversarial_epsilon", "finite number >= 0"),
        (dict(adversarial_epsilon=True), "adversarial_epsilon", "finite number >= 0"),
        (dict(model="seq2seq_rnn", adversarial_epsilon=1.0), "adversarial_epsilon", "model='classifier'"),
        (dict(model="seq2seq_transformer", adversarial_epsilon=0.5), "adversarial_epsilon", "model='classifier'"),
    ],
)
def test_bad_config_names_field_value_and_allowed(overrides, field, allowed):
    with pytest.raises(ValueError) as info:
        build_model(overrides)
    message = str(info.value)
    assert f"config.{field}=" in message and allowed in message
    assert f"config.{field}={overrides[field]!r}" in message


def test_unknown_field_lists_fields():
    with pytest.raises(ValueError, match="unknown config field.*'hidden'.*d_model"):
        to_config({"hidden": 3})


def test_config_sources_agree():
    @dataclasses.dataclass
    class Experiment:
        model: str = "seq2seq_rnn"
        attention: str = "general"
        d_model: int = 24

    class FakeConfigDict:  # ml_collections.ConfigDict exposes to_dict()
        def to_dict(self):
            return {"model": "seq2seq_rnn", "attention": "general", "d_model": 24}

    from_dict = validate({"model": "seq2seq_rnn", "attention": "general", "d_model": 24})
    assert validate(Experiment()) == from_dict == validate(FakeConfigDict())
    assert validate(from_dict.replace(d_model=48)).d_model == 48
    assert isinstance(from_dict, ModelConfig) and from_dict.score.name == "general"
    assert validate({"attention": "none"}).score is None


def test_registry_lists_models_and_builds_each():
    assert set(MODELS.names()) == {"classifier", "seq2seq_transformer", "seq2seq_rnn"}
    for name in MODELS.names():
        assert build_model({"model": name}).config.model == name


def test_attention_features_sets_the_key_width_apart_from_the_model_width():
    import jax

    from attnjax.models import init_model

    config = {"model": "classifier", "attention": "dot", "d_model": 16, "num_heads": 1, "num_layers": 1,
              "pooling": "attention", "attention_features": 48, "vocab_size": 20}
    _, params = init_model(config, jax.random.key(0))
    layer = params["encoder"]["transformer"]["layer_0"]["self_attention"]
    assert layer["query"]["kernel"].shape == (16, 1, 48)  # d_model 16 -> one head of d_k 48
    assert layer["out"]["kernel"].shape == (1, 48, 16)
    assert params["pooling"]["attention"]["key"]["kernel"].shape == (16, 1, 48)
    with pytest.raises(ValueError, match=r"num_heads=4 does not divide config.attention_features=18"):
        validate({**config, "num_heads": 4, "attention_features": 18})


def test_attention_key_features_widens_queries_and_keys_but_not_values():
    import jax

    from attnjax.models import init_model

    config = {"model": "classifier", "attention": "scaled_dot", "d_model": 16, "num_heads": 1, "num_layers": 1,
              "pooling": "attention", "attention_key_features": 48, "vocab_size": 20}
    _, params = init_model(config, jax.random.key(0))
    layer = params["encoder"]["transformer"]["layer_0"]["self_attention"]
    assert layer["query"]["kernel"].shape == layer["key"]["kernel"].shape == (16, 1, 48)
    assert layer["value"]["kernel"].shape == (16, 1, 16) and layer["out"]["kernel"].shape == (1, 16, 16)
    pooling = params["pooling"]["attention"]
    assert pooling["key"]["kernel"].shape == (16, 1, 48) and pooling["value"]["kernel"].shape == (16, 1, 16)
    _, params = init_model({**config, "model": "seq2seq_transformer", "num_heads": 2}, jax.random.key(0))
    cross = params["decoder"]["layer_0"]["cross_attention"]
    assert cross["key"]["kernel"].shape == (16, 2, 24) and cross["value"]["kernel"].shape == (16, 2, 8)
    with pytest.raises(ValueError, match=r"num_heads=4 does not divide config.attention_key_features=18"):
        validate({**config, "num_heads": 4, "attention_key_features": 18})
    with pytest.raises(ValueError, match=r"config.attention_key_features=0 is not allowed"):
        validate({**config, "attention_key_features": 0})
