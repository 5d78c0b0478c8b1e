"""The default comparison grid: 8 attention variants x 2 built-in offline tasks x 3 seeds.

    python experiments/compare.py            # this grid; results/ (table.md, table.csv, table.tex, plots/)

Tasks (attnjax.data built-in tasks, generated from seed 0, no download; see README "Built-in tasks"):
  sentiment      builtin:sentiment, 20,000 training reviews, 1,000 validation, 1,000 test; a 1-layer
                 pre-norm Transformer (d_model 64, MLP 128) with attention pooling (a learned query
                 attending with the variant's score), 600 steps of 64; "none" has no self-attention
                 and mean pooling.
  summarization  builtin:salient_summary, 4,000 training documents (6-12 events, up to 172 words),
                 1,000 validation, 1,000 test (ROUGE on the first 200 of each); an LSTM encoder-decoder
                 (d_model 64) whose decoder attends over the encoder states with the variant's score
                 (Bahdanau/Luong style, input feeding) and copies through it (pointer-generator),
                 200 steps of 32; "none" passes only the final encoder state (and has no pointer).
Single-head variants use 1 head, multi-head ones 4. The table reports the test split on the
best-validation checkpoint.

Expected (2-core CPU, 2 workers): about 6-10 minutes for the 48 runs; attention variants far
above "none" on both tasks (README "Compare attention variants" has the measured table).
"""

import ml_collections

from attnjax.train import default_config


def sentiment():
    config = default_config()
    config.task = "classification"
    config.data.source = "builtin:sentiment"
    config.data.options = {"num_examples": {"train": 20000, "validation": 1000, "test": 1000}}
    config.data.tokenizer = "word"
    config.data.max_length = 32
    config.data.bucket_lengths = (32,)
    config.model.model = "classifier"
    config.model.d_model = 64
    config.model.num_layers = 1
    config.model.mlp_dim = 128
    config.model.dropout_rate = 0.0
    config.model.pooling = "attention"
    config.model.max_length = 32
    config.optimizer.learning_rate = 3e-3
    config.optimizer.warmup_steps = 100
    config.train.batch_size = 64
    config.train.num_steps = 600
    config.train.log_every = 50
    config.train.eval_every = 150
    config.train.checkpoint_every = 600
    config.eval.batch_size = 250
    config.eval.best_metric = "accuracy"
    return config


def summarization():
    config = default_config()
    config.task = "summarization"
    config.data.source = "builtin:salient_summary"
    config.data.options = {"num_examples": {"train": 4000, "validation": 1000, "test": 1000}}
    config.data.tokenizer = "word"
    config.data.max_length = 176
    config.data.bucket_lengths = (176,)
    config.data.max_target_length = 12
    config.data.target_bucket_lengths = (12,)
    config.data.max_eval_examples = 200
    config.data.max_test_examples = 200
    config.model.model = "seq2seq_rnn"
    config.model.cell = "lstm"
    config.model.pointer = True
    config.model.d_model = 64
    config.model.dropout_rate = 0.0
    config.model.max_length = 176
    config.optimizer.learning_rate = 3e-3
    config.optimizer.warmup_steps = 30
    config.train.batch_size = 32
    config.train.num_steps = 200
    config.train.log_every = 50
    config.train.eval_every = 100
    config.train.checkpoint_every = 200
    config.eval.batch_size = 100
    config.eval.best_metric = "rougeL"
    config.eval.max_decode_length = 12
    return config


def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "built-in tasks"
    grid.variants = (
        "none", "dot", "scaled_dot", "general", "additive", "cosine", "multihead_scaled_dot", "multihead_additive",
    )
    grid.seeds = (0, 1, 2)
    grid.heads = 4
    grid.split = "test"
    grid.benchmarks = {"sentiment": sentiment(), "summarization": summarization()}
    grid.baselines = {"summarization": ("lead_1",)}
    return grid
