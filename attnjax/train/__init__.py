"""attnjax.train: data-parallel training with exact resume, metrics and checkpoints.

>>> from attnjax.train import default_config, load_run, train_and_evaluate
>>> config = default_config()                       # small classifier on builtin:sentiment
>>> config.model.attention = "additive"
>>> results = train_and_evaluate(config, "/tmp/run")  # resumes if /tmp/run holds this run
>>> results["best"]["metrics"]["accuracy"]
>>> run = load_run("/tmp/run")                      # config, model, best params, tokenizer, log

The loop runs ``jax.jit`` over a mesh of all devices (batch sharded, parameters replicated), so
one CPU, a GPU, a TPU v2-8 and a multi-host pod (after ``jax.distributed.initialize()``) run the
same code with the same global batch.
"""

from attnjax.train import classification, summarization  # noqa: F401  (register the built-in tasks)
from attnjax.train.checkpoints import Checkpointer
from attnjax.train.config import complete, default_config, run_key
from attnjax.train.logs import read_log
from attnjax.train.loop import TrainingDivergedError, train_and_evaluate
from attnjax.train.optim import SCHEDULES, make_optimizer
from attnjax.train.parallel import make_mesh
from attnjax.train.restore import LoadedRun, load_run
from attnjax.train.state import TrainState
from attnjax.train.steps import make_train_step
from attnjax.train.tasks import TASKS, Task

__all__ = [
    "SCHEDULES",
    "TASKS",
    "Checkpointer",
    "LoadedRun",
    "Task",
    "TrainState",
    "TrainingDivergedError",
    "complete",
    "default_config",
    "load_run",
    "make_mesh",
    "make_optimizer",
    "make_train_step",
    "read_log",
    "run_key",
    "train_and_evaluate",
]
