"""Train and evaluate one experiment config.

    python experiments/train.py --config experiments/configs/sst2.py --workdir runs/sst2
    python experiments/train.py --config experiments/configs/sst2.py --workdir runs/sst2_additive \
        --config.model.attention=additive --config.train.num_steps=2000

``python -m experiments.train ...`` is the same command. Re-running with the same workdir resumes an interrupted run (or prints a finished run's results);
a workdir holding another config's run is refused unless ``--overwrite``, and one whose earlier
training left no readable checkpoint is refused unless ``--restart`` (train again from step 0 there)
or ``--overwrite``. On a multi-host TPU pod run the same command on every host with ``--distributed``.
"""

from __future__ import annotations

import json
import sys

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "experiment config file (experiments/configs/*.py)", lock_config=True)
flags.DEFINE_string("workdir", None, "run directory: checkpoints, logs, results", required=True)
flags.DEFINE_bool(
    "overwrite", False,
    "delete a workdir that holds another config's run and start again (once the new config is checked and its data read)",
)
flags.DEFINE_bool(
    "restart", False,
    "train again from step 0 when the workdir shows earlier training but no checkpoint is left to resume from",
)
flags.DEFINE_bool("distributed", False, "call jax.distributed.initialize() first (multi-host runs)")
flags.mark_flags_as_required(["config"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint operation at INFO
    import jax

    if FLAGS.distributed:
        jax.distributed.initialize()
    from attnjax.train import train_and_evaluate

    results = train_and_evaluate(FLAGS.config, FLAGS.workdir, overwrite=FLAGS.overwrite, restart=FLAGS.restart)
    summary = {k: results[k] for k in ("task", "attention", "steps", "num_params", "best", "test", "timing")}
    print(json.dumps(summary, indent=1, default=str))


def parse_flags(argv):
    """absl's parsing, after a one-line error for an override naming no config field."""
    from attnjax.train.config import check_overrides

    try:
        check_overrides(argv[1:])
    except ValueError as error:
        sys.exit(f"{argv[0]}: {error}")
    return app.parse_flags_with_usage(argv)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
