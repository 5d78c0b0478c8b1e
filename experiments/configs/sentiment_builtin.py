"""Transformer classifier on the built-in offline sentiment task (no download).

    python experiments/train.py --config experiments/configs/sentiment_builtin.py --workdir runs/sentiment_builtin

One pre-norm Transformer layer (d_model 64, 4 heads, MLP 128) with attention pooling, on the
task's default 20,000 training reviews; AdamW 3e-3, 1,500 steps of 64.

Expected (2-core CPU, 2026-11-29): validation accuracy 0.990 at step 500 and 1.000 from step 1,000;
test 0.9985 on the best checkpoint; about 40 s wall (9 s of it compiling).
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
    config.model.num_layers = 1
    config.model.mlp_dim = 128
    config.model.pooling = "attention"
    config.model.dropout_rate = 0.0
    config.train.batch_size = 64
    config.train.num_steps = 1500
    config.train.eval_every = 250
    config.train.checkpoint_every = 500
    config.optimizer.learning_rate = 3e-3
    config.optimizer.warmup_steps = 100
    config.eval.best_metric = "accuracy"
    return config
