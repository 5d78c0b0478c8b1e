import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attnjax import nn as ann

X = jax.random.normal(jax.random.key(0), (2, 5, 8))
MASK = jnp.array([[True, True, True, False, False], [True] * 5])


def test_sinusoidal_table_values():
    table = ann.sinusoidal_table(10, 6)
    assert table.shape == (10, 6)
    np.testing.assert_allclose(table[0], [0, 0, 0, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0), rtol=1e-5)
    assert ann.sinusoidal_table(4, 5).shape == (4, 5)


@pytest.mark.parametrize("cls", [ann.SinusoidalPositionalEncoding, ann.LearnedPositionalEncoding])
def test_additive_encoding_decode_continues_positions(cls):
    full_module, step_module = cls(max_length=8), cls(max_length=8, decode=True)
    variables = step_module.init(jax.random.key(0), X)
    full = full_module.apply({"params": variables.get("params", {})}, X)
    cache, steps = variables["cache"], []
    for t in range(X.shape[1]):
        out, state = step_module.apply(
            {"params": variables.get("params", {}), "cache": cache}, X[:, t : t + 1], mutable=["cache"]
        )
        cache = state["cache"]
        steps.append(out)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, atol=1e-6)
    with pytest.raises(ValueError, match="max_length"):
        full_module.apply({"params": variables.get("params", {})}, jnp.zeros((1, 9, 8)))


def test_rotary_makes_scores_depend_on_relative_position():
    q = jax.random.normal(jax.random.key(1), (1, 1, 1, 8))
    k = jax.random.normal(jax.random.key(2), (1, 1, 1, 8))
    rot = lambda x, p: ann.apply_rotary(x, jnp.array([[p]]))  # noqa: E731
    s1 = jnp.sum(rot(q, 5) * rot(k, 2))
    s2 = jnp.sum(rot(q, 13) * rot(k, 10))
    np.testing.assert_allclose(s1, s2, rtol=1e-4)
    assert not np.allclose(s1, jnp.sum(rot(q, 5) * rot(k, 4)))
    with pytest.raises(ValueError, match="even"):
        ann.apply_rotary(jnp.zeros((1, 1, 1, 3)), jnp.zeros((1, 1)))


def test_unknown_positional_lists_known():
    with pytest.raises(ValueError, match="sinusoidal"):
        ann.get_positional("spiral")


def test_mean_and_first_pool():
    np.testing.assert_allclose(ann.mean_pool(X, MASK)[0], X[0, :3].mean(0), rtol=1e-5)
    np.testing.assert_allclose(ann.first_pool(X, MASK), X[:, 0])


@pytest.mark.parametrize(
    "module", [ann.AttentionPooling(hidden_dim=6, num_hops=2), ann.QueryAttentionPooling(2, "additive")]
)
def test_attention_poolings_ignore_padding_and_sow(module, fast):
    rng = jax.random.key(0)
    variables = fast(module.init, rng, X, MASK)(rng, X, MASK)
    apply = fast(lambda v, x: module.apply(v, x, MASK, mutable=["intermediates"]), variables, X)
    out, state = apply(variables, X)
    noisy, _ = apply(variables, X.at[0, 3:].set(50.0))
    np.testing.assert_allclose(out, noisy, atol=1e-5)
    assert jax.tree.leaves(state["intermediates"])


def test_additive_pooling_is_keys_only_mlp_attention():
    # Yang et al. (2016) / Flax examples/sst2: weights = softmax_j(v . tanh(U k_j + b)), no query.
    module = ann.QueryAttentionPooling(2, "additive", qkv_features=8)
    variables = module.init(jax.random.key(0), X, MASK)
    params = variables["params"]
    assert "query" not in params and "query" not in params["attention"]
    attention, score = params["attention"], params["attention"]["score"]
    # Non-zero bias and query kernel: the weights must depend on b and not on W.
    score = dict(score, bias=jax.random.normal(jax.random.key(3), score["bias"].shape))
    params = {"attention": dict(attention, score=score)}
    _, state = module.apply({"params": params}, X, MASK, mutable=["intermediates"])
    weights = np.asarray(jax.tree.leaves(state["intermediates"])[0])[:, :, 0]  # [B, H, L]

    keys = np.einsum("blf,fhd->blhd", X, attention["key"]["kernel"]) + np.asarray(attention["key"]["bias"])
    hidden = np.tanh(np.einsum("blhd,hda->bhla", keys, score["key_kernel"]) + np.asarray(score["bias"])[None, :, None])
    logits = np.einsum("bhla,ha->bhl", hidden, score["v"])
    logits = np.where(np.asarray(MASK)[:, None], logits, -np.inf)
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, atol=1e-5)

    other = {"attention": dict(attention, score=dict(score, query_kernel=score["query_kernel"] + 5.0))}
    np.testing.assert_allclose(module.apply({"params": other}, X, MASK), module.apply({"params": params}, X, MASK))


@pytest.mark.parametrize("score", ["dot", "scaled_dot", "general", "cosine", "gaussian"])
def test_dot_form_pooling_keeps_a_learned_query(score):
    variables = ann.QueryAttentionPooling(1, score).init(jax.random.key(0), X, MASK)
    assert variables["params"]["query"].shape == (1, 1, X.shape[-1])
    assert "query" in variables["params"]["attention"]
