"""XSum (extreme summarization, BBC): a pointer-generator LSTM encoder-decoder with each attention variant.

    python experiments/compare.py --preset xsum --download                     # tfds:xsum (Colab TPU/GPU)

Model: as grid_cnn_dailymail.py at d_model 256: bidirectional LSTM encoder, LSTM decoder with input
feeding and a copy pointer; SentencePiece (16k, lower-cased); articles truncated to 400 tokens,
one-sentence summaries to 48; 20,000 steps of 64 articles (about 6 epochs of the 204k training
articles); greedy decoding; ROUGE on the first 2,000 validation articles during training, on the
test set once at the end. Narayan et al. (2018) report 29.7 / 9.2 / 23.2 ROUGE-1/2/L for the
pointer-generator and 16.3 / 1.6 / 11.9 for Lead (XSum summaries are not extractive, so Lead is
weak here).

Expected: not run on this repository's CPU; about 2 hours per variant on a Colab TPU v2-8.
"""

import ml_collections

from experiments.configs import grid_cnn_dailymail


def summarization():
    config = grid_cnn_dailymail.summarization()
    config.data.source = "tfds:xsum"
    config.data.test_split = "test"
    config.data.vocab_size = 16000
    config.data.max_length = 400
    config.data.bucket_lengths = (200, 400)
    config.data.max_eval_examples = 2000
    config.model.d_model = 256
    config.model.max_length = 400
    config.optimizer.learning_rate = 1e-3
    config.optimizer.warmup_steps = 500
    config.train.batch_size = 64
    config.train.num_steps = 20000
    config.train.log_every = 200
    config.train.eval_every = 2000
    config.train.checkpoint_every = 1000
    config.eval.batch_size = 128
    return config

def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "XSum"
    grid.variants = ("none", "dot", "scaled_dot", "additive", "multihead_scaled_dot", "multihead_additive")
    grid.seeds = (0,)
    grid.heads = 4
    grid.split = "test"
    grid.benchmarks = {"xsum": summarization()}
    grid.baselines = {"xsum": ("lead_1",)}
    return grid
