"""IMDB reviews comparison on a 2-core CPU: a 1-layer Transformer classifier over 256 subword tokens with each attention variant.

    python experiments/compare.py --preset imdb --data ../shared/data/imdb      # local copy: 20,000 train / 5,000 validation
    python experiments/compare.py --preset imdb --download                     # tfds:imdb_reviews (validation: 10% of train)
    python experiments/compare.py --config experiments/configs/grid_imdb_accelerator.py --download   # 512 tokens, 2 layers (TPU/GPU)

Model: SentencePiece (8k, lower-cased, HTML breaks stripped) trained on the training split;
reviews truncated to 256 tokens (buckets 128/256); one
pre-norm Transformer layer (d_model 64, 4 heads for the multi-head rows, MLP 256, dropout 0.1,
word dropout 0.1) and attention pooling with the variant's score (``none``: mean pooling over a
bag of position-wise features); AdamW 1e-3, 200 warmup steps, cosine decay, 2,500 steps of 32
reviews (4 epochs of 20,000), validation every 500 steps and the best check kept. The table
reports validation (the local copy has no test split; for TFDS's 25,000 test reviews use the
accelerator grid, which scores them once on the best-validation checkpoint). The TF-IDF
uni+bigram logistic regression row is fitted on the same training reviews.

Sized for the issue's budget of at most 20 minutes per run on the 2-core CPU (an estimate from
the SST-2 Transformer's throughput; not measured: the shared machine was loaded far beyond its
cores when this was written). Expected, not measured: 0.85-0.88 validation accuracy for the
attention variants (small from-scratch Transformers on IMDB), below the TF-IDF bigram row
(linear bag-of-bigram models reach 0.89-0.91 on IMDB: Maas et al. 2011, Wang & Manning 2012).
Measured (2026-12-01, local copy, 2-core CPU at load 7-8): the TF-IDF row alone, 0.9016 validation
accuracy on the 5,000 reviews (240 s); no Transformer run of this preset was measured.
"""

import ml_collections

from experiments.configs import classification_findings, grid_imdb_accelerator
from experiments.grid import SCORE_VARIANTS


def classifier():
    config = grid_imdb_accelerator.classifier()
    config.data.tokenizer = "word"
    config.data.vocab_size = 30000
    config.data.max_length = 512
    config.data.bucket_lengths = (128, 256, 512)
    config.data.test_split = ""  # the local copy has train and validation only
    config.model.encoder = "bag"
    config.model.ngram_buckets = 2**18
    config.model.d_model = 64
    config.model.num_layers = 1  # unused by the bag encoder
    config.model.mlp_dim = 128  # unused by the bag encoder
    # The SST-2 recipe's regularisation (Flax examples/sst2's): with 0.2 dropout and no word dropout
    # the attention rows peaked after one epoch and then fell (scaled_dot 90.6 -> 89.9, seed 0).
    config.model.dropout_rate = 0.5
    config.model.embedding_dropout_rate = 0.5
    config.model.word_dropout_rate = 0.1
    config.model.max_length = 512
    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 100
    config.train.batch_size = 32
    config.train.num_steps = 3125  # 5 epochs of the 20,000 training reviews
    config.train.eval_every = 625
    config.train.checkpoint_every = 625
    return config


def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "IMDB"
    grid.variants = SCORE_VARIANTS  # none, every single-head score, every multi-head one
    grid.seeds = (0, 1, 2)
    grid.heads = 4
    grid.split = "validation"
    grid.benchmarks = {"imdb": classifier()}
    grid.contrasts = classification_findings.contrasts("imdb")
    grid.baselines = {"imdb": ("tfidf_logreg",)}  # needs scikit-learn: pip install 'attnjax[baselines]'
    return grid
