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
    "transformer-chunked": dict(encoder="transformer", pooling="mean", attention="gaussian",
                                use_chunked=True, query_chunk_size=4, key_chunk_size=4),
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
        "transformer-chunked": 0,  # the chunked path never builds the weights
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
