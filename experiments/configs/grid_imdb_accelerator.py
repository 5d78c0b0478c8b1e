"""IMDB reviews comparison at 512 tokens: a 2-layer Transformer classifier with each attention variant,
for a Colab TPU/GPU. Not run here.

    python experiments/compare.py --config experiments/configs/grid_imdb_accelerator.py --download   # tfds:imdb_reviews

Hardware: one accelerator (a Colab T4/L4 GPU or a TPU v2-8); compare.py then trains one run at a time.
Model: SentencePiece (8k, lower-cased, HTML breaks stripped) trained on the training split; reviews
truncated to 512 tokens in buckets of 128/256/512; 2 pre-norm Transformer layers (d_model 128,
MLP 512, dropout 0.1, word dropout 0.1) and attention pooling with the variant's score; AdamW 5e-4,
4,000 steps of 64 reviews (about 11 epochs of TFDS's 22,500-review training part; IMDB has no
validation split, so 10% of train is carved off deterministically) and the 25,000 test reviews
scored once, on the best-validation checkpoint.

Expected (not measured in this repository): 0.85-0.88 test accuracy for the attention variants,
the range of small Transformers trained from scratch on IMDB word/subword tokens (the Long Range
Arena's byte-level 4k-token variant is far harder: 0.65); about 20-30 minutes per variant on a T4
or a TPU v2-8. The TF-IDF uni+bigram logistic regression row is the classic strong linear
reference on IMDB (Maas et al. 2011 report 88-89% for bag-of-words models; NBSVM-bigram 91.2%, Wang
& Manning 2012).
"""

import ml_collections

from attnjax.train import default_config
from experiments.grid import SCORE_VARIANTS


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
    config.model.word_dropout_rate = 0.1
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


def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "IMDB (512 tokens)"
    grid.variants = SCORE_VARIANTS  # none, every single-head score, every multi-head one
    grid.seeds = (0, 1, 2)
    grid.heads = 4
    grid.split = "test"
    grid.benchmarks = {"imdb": classifier()}
    grid.baselines = {"imdb": ("tfidf_logreg",)}
    return grid
