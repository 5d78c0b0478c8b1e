"""Gigaword headline generation: a pointer-generator LSTM encoder-decoder with each attention variant.

    python experiments/compare.py --preset gigaword --download                 # tfds:gigaword (Colab TPU/GPU)

Model: grid_cnn_dailymail.py's at d_model 256: bidirectional LSTM encoder, LSTM decoder with input
feeding and a copy pointer;
SentencePiece (16k, lower-cased); first sentences truncated to 64 tokens, headlines to 32;
20,000 steps of 128 pairs (about 0.7 epochs of the 3.8M training pairs); greedy decoding; ROUGE
on the first 2,000 validation pairs during training, and on the test set once at the end (the
best-validation checkpoint). The literature's attention-based models score about 30-36 ROUGE-1
(Rush et al. 2015 ABS+: 29.8 / 11.9 / 27.0; Nallapati et al. 2016: 32.7 / 15.6 / 30.6; ROUGE-1/2/L
on their test sets); without attention ("none", no pointer) expect far less.

Expected: not run on this repository's CPU; about 1-2 hours per variant on a Colab TPU v2-8.
"""

import ml_collections

from experiments.configs import grid_cnn_dailymail


def summarization():
    config = grid_cnn_dailymail.summarization()
    config.data.source = "tfds:gigaword"
    config.data.test_split = "test"
    config.data.vocab_size = 16000
    config.data.max_length = 64
    config.data.bucket_lengths = (32, 64)
    config.data.max_target_length = 32
    config.data.target_bucket_lengths = (32,)
    config.data.max_eval_examples = 2000
    config.model.d_model = 256
    config.model.max_length = 64
    config.optimizer.learning_rate = 1e-3
    config.optimizer.warmup_steps = 500
    config.train.batch_size = 128
    config.train.num_steps = 20000
    config.train.log_every = 200
    config.train.eval_every = 2000
    config.train.checkpoint_every = 1000
    config.eval.batch_size = 256
    config.eval.max_decode_length = 32
    return config

def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "Gigaword"
    grid.variants = ("none", "dot", "scaled_dot", "additive", "multihead_scaled_dot", "multihead_additive")
    grid.seeds = (0,)
    grid.heads = 4
    grid.split = "test"
    grid.benchmarks = {"gigaword": summarization()}
    grid.baselines = {"gigaword": ("lead_1",)}
    return grid
