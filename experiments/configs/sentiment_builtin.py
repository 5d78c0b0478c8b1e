"""Transformer classifier on the built-in offline sentiment task (no download).

    python experiments/train.py --config experiments/configs/sentiment_builtin.py --workdir runs/sentiment_builtin

Expected: see the closing note of the training issue (filled in from a real run).
"""

from attnjax.train import default_config


def get_config():
    config = default_config()
    config.task = "classification"
    config.data.source = "builtin:sentiment"
    config.data.tokenizer = "word"
    config.data.max_length = 64
    config.data.bucket_lengths = (32, 64)
    config.model.model = "classifier"
    config.model.attention = "scaled_dot"
    config.model.d_model = 64
    config.model.num_heads = 4
    config.model.num_layers = 2
    config.model.mlp_dim = 128
    config.model.pooling = "mean"
    config.train.batch_size = 32
    config.train.num_steps = 600
    config.train.eval_every = 200
    config.train.checkpoint_every = 200
    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 50
    config.eval.best_metric = "accuracy"
    return config
