import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax.models import build_model, example_inputs

BASE = dict(model="classifier", vocab_size=30, num_classes=4, d_model=16, num_heads=2, num_layers=2,
            mlp_dim=32, max_length=16, pooling_hidden=8, dropout_rate=0.1)
TOKENS = jnp.array([[5, 9, 3, 7, 0, 0], [8, 8, 2, 14, 11, 6]], jnp.int32)
MORE_PADDING = jnp.pad(TOKENS, ((0, 0), (0, 4)))

CONFIGS = {
    "transformer-cls-learned": dict(encoder="transformer", pooling="cls", positional="learned", attention="additive"),
    "lstm-attention": dict(encoder="lstm", pooling="attention", attention="general", num_heads=1),
    "gru-structured": dict(encoder="gru", pooling="structured", num_hops=2, attention="dot"),
    "bag-none": dict(encoder="transformer", pooling="mean", attention="none"),
    "bag-bigrams-attention": dict(encoder="bag", pooling="attention", attention="scaled_dot", ngram_buckets=64),
    "transformer-chunked": dict(encoder="transformer", pooling="mean", attention="gaussian",
                                use_chunked=True, query_chunk_size=4, key_chunk_size=4),
    "transformer-cls-wide-embed": dict(encoder="transformer", pooling="cls", attention="cosine", embed_dim=24),
}


@pytest.fixture(scope="module", params=list(CONFIGS), ids=list(CONFIGS))
def built(request, fast):
    model = build_model({**BASE, **CONFIGS[request.param]})
    rng, inputs = jax.random.key(0), example_inputs(model.config)
    params = fast(model.init, rng, *inputs)(rng, *inputs)["params"]
    return request.param, model, params


def test_padding_is_ignored(built, fast):
    _, model, params = built
    apply = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    logits = fast(apply, params, TOKENS)(params, TOKENS)
    padded = fast(apply, params, MORE_PADDING)(params, MORE_PADDING)
    assert logits.shape == (2, 4)
    np.testing.assert_allclose(logits, padded, atol=1e-5)


def test_weights_of_every_layer_read_back_and_dropout_is_active(built, fast):
    name, model, params = built

    def apply(p, x, rng):
        logits, state = model.apply({"params": p}, x, mutable=["intermediates"])
        noisy = model.apply({"params": p}, x, deterministic=False, rngs={"dropout": rng})
        return logits, state.get("intermediates", {}), noisy

    rng = jax.random.key(1)
    logits, inter, noisy = fast(apply, params, TOKENS, rng)(params, TOKENS, rng)
    assert not np.allclose(logits, noisy)
    weights = jax.tree_util.tree_flatten_with_path(inter)[0]
    paths = ["/".join(str(getattr(k, "key", k)) for k in path) for path, _ in weights]
    expected = {
        "transformer-cls-learned": 2,  # two encoder layers
        "lstm-attention": 1,
        "gru-structured": 1,
        "bag-none": 0,
        "bag-bigrams-attention": 1,  # the pooling: the bag encoder has no attention
        "transformer-chunked": 0,  # the chunked path never builds the weights
        "transformer-cls-wide-embed": 2,
    }[name]
    assert len(paths) == expected, paths
    for _, w in weights:
        # [batch, heads, queries, keys] or [batch, hops, length]; rows over real tokens sum to 1
        np.testing.assert_allclose(np.asarray(w).sum(-1).max(), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_word_and_embedding_dropout_act_only_while_training(fast):
    from attnjax.models.components import WordDropout

    tokens = jnp.tile(jnp.arange(4, 20, dtype=jnp.int32)[None], (64, 1)).at[:, -4:].set(0)
    mask = tokens != 0
    drop = WordDropout(rate=0.3, unk_id=3)
    dropped = drop.apply({}, tokens, mask, deterministic=False, rngs={"dropout": jax.random.key(0)})
    replaced = np.asarray(dropped != tokens)
    assert np.all(np.asarray(dropped)[replaced] == 3) and not replaced[:, -4:].any()  # padding stays padding
    assert 0.25 < replaced[:, :-4].mean() < 0.35
    np.testing.assert_array_equal(drop.apply({}, tokens, mask, deterministic=True), tokens)

    # Both rates leave evaluation (and the parameters) unchanged and make training noisier.
    config = {**BASE, "encoder": "lstm", "pooling": "attention", "attention": "additive", "num_heads": 1, "dropout_rate": 0.0}
    plain, noisy = build_model(config), build_model({**config, "word_dropout_rate": 0.3, "embedding_dropout_rate": 0.3})
    rng, inputs = jax.random.key(0), example_inputs(plain.config)
    params = plain.init(rng, *inputs)["params"]
    assert jax.tree.structure(params) == jax.tree.structure(noisy.init(rng, *inputs)["params"])
    np.testing.assert_allclose(plain.apply({"params": params}, TOKENS), noisy.apply({"params": params}, TOKENS), atol=1e-6)
    train = lambda model: model.apply({"params": params}, TOKENS, deterministic=False, rngs={"dropout": jax.random.key(2)})  # noqa: E731
    np.testing.assert_allclose(train(plain), plain.apply({"params": params}, TOKENS), atol=1e-6)
    assert not np.allclose(train(noisy), train(plain))


def test_hashed_bigrams_spread_over_the_buckets_and_vanish_at_padding():
    from attnjax.models.components import HashedBigramEmbed, bigram_ids

    vocab = 100
    first, second = np.meshgrid(np.arange(vocab), np.arange(vocab), indexing="ij")
    pairs = jnp.asarray(np.stack([first.ravel(), second.ravel()], axis=1), jnp.int32)  # every bigram once
    ids = np.asarray(bigram_ids(pairs, 2**16))[:, 0]
    assert ids.min() >= 0 and ids.max() < 2**16
    # 10,000 bigrams in 65,536 buckets: a uniform hash leaves about 7% sharing a row.
    assert len(set(ids.tolist())) > 0.9 * vocab * vocab
    assert bigram_ids(jnp.array([[5, 9]]), 64)[0, 0] != bigram_ids(jnp.array([[9, 5]]), 64)[0, 0]  # order counts
    # A bigram whose second token is padding, and the last position, have no embedding.
    embed = HashedBigramEmbed(num_buckets=64, features=4)
    tokens = jnp.array([[5, 9, 7, 0, 0]], jnp.int32)
    out = np.asarray(embed.apply(embed.init(jax.random.key(0), tokens, tokens != 0), tokens, tokens != 0))
    assert out.shape == (1, 5, 4)
    assert np.all(out[0, :2] != 0) and np.all(out[0, 2:] == 0)


def test_bigram_features_make_a_bag_of_words_model_see_word_order():
    config = {**BASE, "encoder": "bag", "pooling": "mean", "attention": "none", "dropout_rate": 0.0}
    forward, backward = TOKENS[1:], TOKENS[1:, ::-1]
    for buckets, order_matters in ((0, False), (256, True)):
        model = build_model({**config, "ngram_buckets": buckets})
        params = model.init(jax.random.key(0), *example_inputs(model.config))["params"]
        assert ("bigrams" in params) == bool(buckets)
        same = np.allclose(model.apply({"params": params}, forward), model.apply({"params": params}, backward), atol=1e-6)
        assert same != order_matters


@pytest.mark.parametrize("encoder", ["lstm", "transformer"])
def test_embed_dim_sets_the_embedding_width_apart_from_the_encoder(encoder):
    # (embed_dim=None keeps d_model: every other test here builds that case.)
    config = {**BASE, "encoder": encoder, "pooling": "mean", "attention": "scaled_dot", "num_heads": 1,
              "num_layers": 1, "ngram_buckets": 32, "embed_dim": 40}
    wide = build_model(config)
    params = jax.eval_shape(wide.init, jax.random.key(0), *example_inputs(wide.config))["params"]
    assert params["embed"]["embedding"].shape == (30, 40) and params["bigrams"]["embed"]["embedding"].shape[-1] == 40
    # Only the Transformer's residual stream needs d_model: it alone gains a projection.
    assert ("embed_projection" in params["encoder"]) == (encoder == "transformer")
    if encoder == "lstm":  # the LSTM reads the 40-wide embeddings into its 16-unit cells
        assert params["encoder"]["rnn"]["forward_cell"]["ii"]["kernel"].shape == (40, 16)
    assert jax.eval_shape(lambda p: wide.apply({"params": p}, TOKENS), params).shape == (2, 4)


def test_encoder_dropout_and_the_mlp_head():
    # Flax examples/sst2's classifier: dropout on the encoder's states, a tanh hidden layer before the logits.
    config = {**BASE, "encoder": "lstm", "pooling": "attention", "attention": "scaled_dot", "num_heads": 1,
              "num_layers": 1, "dropout_rate": 0.0}
    rng = jax.random.key(0)
    linear, mlp = build_model(config), build_model({**config, "head_hidden": 12})
    linear_params = linear.init(rng, *example_inputs(linear.config))["params"]
    params = mlp.init(rng, *example_inputs(mlp.config))["params"]
    assert "head_hidden" not in linear_params and linear_params["logits"]["kernel"].shape == (32, 4)
    assert params["head_hidden"]["kernel"].shape == (32, 12) and params["logits"]["kernel"].shape == (12, 4)
    # The head is the formula: logits = tanh(pooled W1 + b1) W2 + b2, pooled as the linear model sees it.
    _, state = mlp.apply({"params": params}, TOKENS, capture_intermediates=lambda m, _: m.name == "pooling",
                         mutable=["intermediates"])
    pooled = state["intermediates"]["pooling"]["__call__"][0]
    hidden = np.tanh(pooled @ params["head_hidden"]["kernel"] + params["head_hidden"]["bias"])
    expected = hidden @ params["logits"]["kernel"] + params["logits"]["bias"]
    np.testing.assert_allclose(mlp.apply({"params": params}, TOKENS), expected, rtol=1e-5, atol=1e-6)

    # Encoder dropout: no parameters, no effect in evaluation, noise in training.
    dropped = build_model({**config, "encoder_dropout_rate": 0.5})
    assert jax.tree.structure(dropped.init(rng, *example_inputs(dropped.config))["params"]) == jax.tree.structure(linear_params)
    np.testing.assert_allclose(dropped.apply({"params": linear_params}, TOKENS), linear.apply({"params": linear_params}, TOKENS), atol=1e-6)
    train = lambda model: model.apply({"params": linear_params}, TOKENS, deterministic=False, rngs={"dropout": jax.random.key(2)})  # noqa: E731
    np.testing.assert_allclose(train(linear), linear.apply({"params": linear_params}, TOKENS), atol=1e-6)
    assert not np.allclose(train(dropped), train(linear))
