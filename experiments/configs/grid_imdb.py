"""IMDB reviews comparison: a 2-layer Transformer classifier with each attention variant.

    python experiments/compare.py --preset imdb --download                     # tfds:imdb_reviews (Colab TPU/GPU)
    python experiments/compare.py --preset imdb --data ../shared/data/imdb      # local copy (train / validation)

Model: SentencePiece (8k, lower-cased, HTML breaks stripped) trained on the training split; reviews
truncated to 512 tokens in buckets of 128/256/512; 2 pre-norm Transformer layers (d_model 128,
MLP 512, dropout 0.1) and attention pooling with the variant's score; AdamW 5e-4, 4,000 steps of
64 reviews (about 11 epochs of TFDS's 22,500-review training part; IMDB has no validation split,
so 10% of train is carved off deterministically and the 25,000 test reviews are scored once on
the best-validation checkpoint). Transformers trained from scratch reach about 0.85-0.88
accuracy on IMDB (e.g. the Long Range Arena byte-level variant reports 0.65 at 4k bytes; word /
subword models do better); attention pooling and scaled dot-product are expected to lead.

Expected: not run on this repository's CPU (the 4,000 steps at length 512 take hours there);
about 20-30 minutes per variant on a Colab TPU v2-8 or a T4.
"""

import ml_collections

from attnjax.train import default_config


def classifier():
    config = default_config()
    config.task = "classification"
    config.data.source = "tfds:imdb_reviews"
    config.data.tokenizer = "sentencepiece"
    config.data.vocab_size = 8000
    config.data.lower = True
    config.data.strip_html = True
    config.data.max_length = 512
    config.data.bucket_lengths = (128, 256, 512)
    config.model.model = "classifier"
    config.model.d_model = 128
    config.model.num_layers = 2
    config.model.mlp_dim = 512
    config.model.dropout_rate = 0.1
    config.model.pooling = "attention"
    config.model.max_length = 512
    config.optimizer.learning_rate = 5e-4
    config.optimizer.warmup_steps = 300
    config.train.batch_size = 64
    config.train.num_steps = 4000
    config.train.log_every = 100
    config.train.eval_every = 500
    config.train.checkpoint_every = 500
    config.eval.batch_size = 128
    config.eval.best_metric = "accuracy"
    return config


def get_grid():
    grid = ml_collections.ConfigDict()
    grid.name = "IMDB"
    grid.variants = ("none", "dot", "scaled_dot", "additive", "multihead_scaled_dot", "multihead_additive")
    grid.seeds = (0, 1, 2)
    grid.heads = 4
    grid.split = "test"
    grid.tasks = {"imdb": classifier()}
    grid.baselines = {"imdb": ("tfidf_logreg",)}  # needs scikit-learn: pip install 'attnjax[baselines]'
    return grid
