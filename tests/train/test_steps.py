"""The training step (gradient accumulation) and the optimizer schedules."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from attnjax.models import build_model, example_inputs
from attnjax.train import TASKS, SCHEDULES, TrainState, default_config, make_optimizer, make_train_step


def setup(dropout: float = 0.0):
    model = build_model({"model": "classifier", "vocab_size": 50, "d_model": 16, "num_heads": 2,
                         "num_layers": 1, "mlp_dim": 32, "dropout_rate": dropout})
    params = model.init(jax.random.key(0), *example_inputs(model.config))["params"]
    tx, _ = make_optimizer(default_config().optimizer, num_steps=10)
    state = TrainState.create(params, tx, jax.random.PRNGKey(1))
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 12, 8)
    inputs = np.where(np.arange(12)[None] < lengths[:, None], rng.integers(3, 50, (8, 12)), 0).astype(np.int32)
    batch = {"inputs": inputs, "labels": rng.integers(0, 2, 8).astype(np.int32),
             "example_mask": np.array([1, 1, 1, 1, 1, 1, 0, 1], np.int32)}  # one padding row
    return model, tx, state, batch


@pytest.mark.slow
@pytest.mark.parametrize("accumulation_steps", [2, 4])
def test_accumulated_microbatches_equal_the_full_batch(accumulation_steps):
    model, tx, state, batch = setup()
    task = TASKS.get("classification")
    full_state, full = jax.jit(make_train_step(task, model, tx, 1))(state, batch)
    acc_state, acc = jax.jit(make_train_step(task, model, tx, accumulation_steps))(state, batch)
    np.testing.assert_allclose(acc["loss"], full["loss"], rtol=1e-6)
    np.testing.assert_allclose(acc["grad_norm"], full["grad_norm"], rtol=1e-5)
    assert float(acc["weight"]) == 7.0  # the padding row counts nowhere
    for a, b in zip(jax.tree.leaves(acc_state.params), jax.tree.leaves(full_state.params)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert int(acc_state.step) == 1


def test_padding_rows_do_not_change_the_update():
    model, tx, state, batch = setup()
    step = jax.jit(make_train_step(TASKS.get("classification"), model, tx, 1))
    _, base = step(state, batch)
    changed = dict(batch, inputs=batch["inputs"].copy(), labels=batch["labels"].copy())
    changed["inputs"][6] = 7  # the padding row's content is irrelevant
    changed["labels"][6] = 1 - changed["labels"][6]
    _, other = step(state, changed)
    np.testing.assert_allclose(other["loss"], base["loss"], rtol=1e-7)


def test_dropout_masks_follow_the_step_number():
    model, tx, state, batch = setup(dropout=0.5)
    step = jax.jit(make_train_step(TASKS.get("classification"), model, tx, 1))
    _, a = step(state, batch)
    _, b = step(state, batch)
    _, c = step(state.replace(step=state.step + 1), batch)
    assert float(a["loss"]) == float(b["loss"]) != float(c["loss"])


def test_accumulation_must_divide_the_batch():
    model, tx, state, batch = setup()
    with pytest.raises(ValueError, match=r"8 rows does not split into config.train.accumulation_steps=3"):
        jax.jit(make_train_step(TASKS.get("classification"), model, tx, 3))(state, batch)


def optimizer_config(schedule):
    config = default_config().optimizer
    config.schedule, config.learning_rate, config.warmup_steps = schedule, 1.0, 10
    return config


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedules_warm_up_linearly_then_peak(name):
    _, schedule = make_optimizer(optimizer_config(name), num_steps=100)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 5, 10)], [0.0, 0.5, 1.0], atol=1e-6)


def test_schedule_shapes_after_warmup():
    cosine = make_optimizer(optimizer_config("cosine"), 100)[1]
    rsqrt = make_optimizer(optimizer_config("rsqrt"), 100)[1]
    constant = make_optimizer(optimizer_config("constant"), 100)[1]
    assert float(cosine(100)) == pytest.approx(0.0, abs=1e-6) and float(cosine(55)) == pytest.approx(0.5, abs=1e-6)
    assert float(rsqrt(30)) == pytest.approx(np.sqrt(10 / 30), rel=1e-5)
    assert float(constant(90)) == 1.0


def test_weight_decay_skips_vectors_and_clipping_bounds_the_update():
    config = optimizer_config("constant")
    config.weight_decay, config.clip_norm, config.warmup_steps = 0.5, 1e-3, 0
    tx, _ = make_optimizer(config, 10)
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones((2,))}
    updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
    assert float(jnp.abs(updates["b"]).max()) == 0.0 and float(jnp.abs(updates["w"]).max()) > 0.0


def test_bad_optimizer_values_are_named():
    config = optimizer_config("cosine")
    config.learning_rate = -1.0
    with pytest.raises(ValueError, match=r"config.optimizer.learning_rate=-1.0; expected a positive number"):
        make_optimizer(config, 10)
