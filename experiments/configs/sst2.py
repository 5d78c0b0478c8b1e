"""Transformer classifier with scaled dot-product attention on SST-2 (GLUE), trained from scratch.

    python experiments/train.py --config experiments/configs/sst2.py --workdir runs/sst2
    # local copy instead of TFDS (the layout of ../shared/data/sst2: train.tsv, dev.tsv):
    python experiments/train.py --config experiments/configs/sst2.py --workdir runs/sst2 \
        --config.data.source=../shared/data/sst2

Model: 2 pre-norm Transformer layers, d_model 128, 4 heads, MLP 512, mean pooling, word-level
vocabulary of the training split (lower-cased); AdamW 1e-3 with warmup and cosine decay; 3 epochs of
the 67,349 training phrases at batch 64. TFDS's glue/sst2 test labels are hidden, so the test
split is skipped and validation (872 sentences) is the reported number.

Expected (2-core CPU, 2026-11-22, local copy): see README "Training" (validation accuracy >= 0.80
within 15 minutes).
"""

from attnjax.train import default_config


def get_config():
    config = default_config()
    config.task = "classification"
    config.data.source = "tfds:glue/sst2"
    config.data.tokenizer = "word"
    config.data.vocab_size = 16000
    config.data.lower = True
    config.data.max_length = 64
    config.data.bucket_lengths = (16, 32, 64)
    config.model.model = "classifier"
    config.model.attention = "scaled_dot"
    config.model.d_model = 128
    config.model.num_heads = 4
    config.model.num_layers = 2
    config.model.mlp_dim = 512
    config.model.dropout_rate = 0.1
    config.model.pooling = "mean"
    config.model.max_length = 64
    config.optimizer.learning_rate = 1e-3
    config.optimizer.warmup_steps = 200
    config.optimizer.weight_decay = 0.01
    config.train.batch_size = 64
    config.train.num_steps = 3000
    config.train.log_every = 100
    config.train.eval_every = 500
    config.train.checkpoint_every = 500
    config.eval.batch_size = 128
    config.eval.best_metric = "accuracy"
    return config
