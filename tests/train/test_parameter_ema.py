"""config.optimizer.ema_decay: the parameters' moving average, kept in the optimizer state and read by evaluation."""

import shutil

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest

from attnjax.train import load_run, train_and_evaluate
from attnjax.train.optim import ParameterEmaState, make_optimizer, parameter_ema
from attnjax.train.state import TrainState, evaluation_params
from test_restore import validation_metrics
from train_testing import tiny_classification


def test_the_average_follows_each_update_with_a_warmed_up_decay():
    decay = 0.9
    tx = parameter_ema(decay)
    params = {"w": jnp.zeros(3), "b": jnp.full((2,), 4.0)}
    state = tx.init(params)
    expected = jax.tree.map(np.asarray, params)
    for t, step in enumerate((1.0, -2.0, 0.5, 3.0)):
        updates = jax.tree.map(lambda p: jnp.full_like(p, step), params)
        out, state = tx.update(updates, state, params)
        assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), out, updates))  # passed through
        params = jax.tree.map(lambda p, u: p + u, params, updates)
        rate = min(decay, (1 + t) / (10 + t))  # 0.1, 0.18, 0.25, 0.31: the initialisation fades fast
        expected = jax.tree.map(lambda e, p: rate * e + (1 - rate) * np.asarray(p), expected, params)
    assert int(state.count) == 4
    for name in params:
        np.testing.assert_allclose(state.ema[name], expected[name], rtol=1e-6)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(updates, state)


def optimizer(**changes):
    config = ml_collections.ConfigDict(dict(
        learning_rate=1e-2, schedule="constant", warmup_steps=0, end_learning_rate_fraction=0.0,
        weight_decay=0.0, b1=0.9, b2=0.98, eps=1e-9, clip_norm=1.0, ema_decay=0.0,
    ))
    config.update(changes)
    return make_optimizer(config, 10)[0]


def test_evaluation_reads_the_average_only_when_one_is_kept():
    params = {"w": jnp.ones((2, 2))}
    grads = {"w": jnp.full((2, 2), 0.5)}
    for decay in (0.0, 0.99):
        tx = optimizer(ema_decay=decay)
        state = TrainState.create(params, tx, jax.random.PRNGKey(0))
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        state = state.replace(params=jax.tree.map(lambda p, u: p + u, params, updates), opt_state=opt_state)
        kept = [x for x in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, ParameterEmaState))
                if isinstance(x, ParameterEmaState)]
        assert len(kept) == (decay > 0)
        if decay:  # one update: rate 0.1, so the average sits 90% of the way to the new parameters
            np.testing.assert_allclose(
                evaluation_params(state)["w"], 0.1 * params["w"] + 0.9 * state.params["w"], rtol=1e-6
            )
            assert not np.allclose(evaluation_params(state)["w"], state.params["w"])
        else:
            assert evaluation_params(state) is state.params


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_bad_decay_is_named_before_training(value):
    with pytest.raises(ValueError, match=r"config.optimizer.ema_decay=.*expected 0 \(no averaging\) or a decay in \(0, 1\)"):
        optimizer(ema_decay=value)


def latest_state(workdir, step):
    return ocp.StandardCheckpointer().restore(workdir / "checkpoints" / "latest" / str(step) / "state")


@pytest.mark.slow
def test_a_run_evaluates_checkpoints_and_resumes_the_average(tmp_path):
    config = tiny_classification(steps=12, optimizer__ema_decay=0.8)
    reference = tmp_path / "reference"
    results = train_and_evaluate(config, reference)
    # The validation metrics of step 12, and load_run's parameters, are the average's, not the raw ones.
    run = load_run(reference, which="latest")
    saved = latest_state(reference, 12)
    ema = saved["opt_state"][-1]["ema"] if isinstance(saved["opt_state"][-1], dict) else saved["opt_state"][-1][1]
    for a, b in zip(jax.tree.leaves(run.params), jax.tree.leaves(ema)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(ema), jax.tree.leaves(saved["params"])))
    measured = validation_metrics(run)
    assert measured["loss"] == pytest.approx(results["validation"]["loss"], rel=1e-6)
    best = load_run(reference)
    assert validation_metrics(best)["loss"] == pytest.approx(results["best"]["metrics"]["loss"], rel=1e-6)

    # Resumed from step 8, the average continues as in the uninterrupted run, bit for bit.
    resumed = tmp_path / "resumed"
    shutil.copytree(reference, resumed)
    (resumed / "results.json").unlink()
    shutil.rmtree(resumed / "checkpoints" / "latest" / "12")
    again = train_and_evaluate(config, resumed)
    assert again["resumed_from_step"] == 8
    for a, b in zip(jax.tree.leaves(latest_state(resumed, 12)), jax.tree.leaves(saved)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert again["validation"] == results["validation"]
