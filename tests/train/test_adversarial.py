"""Adversarial training on the classifier's embeddings (``model.adversarial_epsilon``, Miyato et al. 2017)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attnjax.models import build_model, example_inputs
from attnjax.train import TASKS, TrainState, default_config, make_optimizer, make_train_step
from attnjax.train.classification import classification_loss

CONFIG = {"model": "classifier", "vocab_size": 40, "d_model": 8, "num_heads": 2, "encoder": "lstm",
          "pooling": "attention", "attention": "scaled_dot", "dropout_rate": 0.0}


def _model(epsilon, **overrides):
    model = build_model({**CONFIG, "adversarial_epsilon": epsilon, **overrides})
    params = model.init(jax.random.key(0), *example_inputs(model.config))["params"]
    return model, params


def _batch():
    # Every token id appears once in the batch and there is no padding, so moving a token's row of
    # the embedding table moves exactly one position of one example: the reference below uses that.
    inputs = np.arange(4, 4 + 3 * 5, dtype=np.int32).reshape(3, 5)
    return {"inputs": inputs, "labels": np.array([0, 1, 1], np.int32), "example_mask": np.ones(3, np.int32)}


def _table_loss(model, params, table, batch):
    params = {**params, "embed": {"embedding": table}}
    logits = model.apply({"params": params}, batch["inputs"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).sum()


@pytest.mark.parametrize("epsilon", [0.05, 2.0])
def test_the_adversarial_loss_is_the_loss_at_the_normalised_gradient_step(epsilon):
    model, params = _model(epsilon)
    batch = _batch()
    total, sums = classification_loss(model, params, batch, jax.random.key(1), 0)
    plain, _ = _model(0.0)
    clean, plain_sums = classification_loss(plain, params, batch, jax.random.key(1), 0)
    np.testing.assert_allclose(sums["clean_loss"], clean, rtol=1e-6)
    assert "clean_loss" not in plain_sums  # the default step reports what it did before
    # Reference, by another route: the gradient of the clean loss with respect to the embedding
    # table, read at each example's tokens, is the gradient with respect to its embeddings.
    table = params["embed"]["embedding"]
    grad_table = jax.grad(_table_loss, argnums=2)(plain, params, table, batch)
    moved = np.array(table)
    for row in batch["inputs"]:
        g = np.asarray(grad_table)[row]
        moved[row] += epsilon * g / np.linalg.norm(g)
    adversarial = _table_loss(plain, params, jnp.asarray(moved), batch)
    np.testing.assert_allclose(total - sums["clean_loss"], adversarial, rtol=1e-5)
    assert adversarial > clean  # the step goes up the loss


def test_the_gradient_is_the_sum_of_both_losses_with_the_step_held_fixed():
    model, params = _model(1.0)
    batch = _batch()
    grads = jax.grad(lambda p: classification_loss(model, p, batch, jax.random.key(1), 0)[0])(params)
    plain, _ = _model(0.0)
    table = params["embed"]["embedding"]
    grad_table = np.asarray(jax.grad(_table_loss, argnums=2)(plain, params, table, batch))
    step = np.zeros_like(np.asarray(table))
    for row in batch["inputs"]:
        step[row] = grad_table[row] / np.linalg.norm(grad_table[row])

    def reference(p):  # no gradient through the step: it is a constant of the adversarial loss
        moved = {**p, "embed": {"embedding": p["embed"]["embedding"] + jnp.asarray(step)}}
        return _table_loss(plain, p, p["embed"]["embedding"], batch) + _table_loss(plain, moved, moved["embed"]["embedding"], batch)

    expected = jax.grad(reference)(params)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-6)


def test_evaluation_and_the_parameters_do_not_change():
    adversarial, params = _model(1.0)
    plain, plain_params = _model(0.0)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, plain_params)
    inputs = _batch()["inputs"]
    np.testing.assert_array_equal(adversarial.apply({"params": params}, inputs), plain.apply({"params": params}, inputs))


def test_a_training_step_with_padding_and_dropout_stays_finite_and_reports_both_losses():
    model, params = _model(1.0, dropout_rate=0.3, embedding_dropout_rate=0.3, word_dropout_rate=0.1)
    tx, _ = make_optimizer(default_config().optimizer, num_steps=10)
    state = TrainState.create(params, tx, jax.random.PRNGKey(1))
    batch = _batch()
    batch["inputs"][0, 3:] = 0  # padding positions
    batch["example_mask"][2] = 0  # a padding row
    new_state, metrics = jax.jit(make_train_step(TASKS.get("classification"), model, tx, 1))(state, batch)
    assert np.isfinite(float(metrics["loss"])) and float(metrics["loss"]) > float(metrics["clean_loss"]) > 0
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(new_state.params))
