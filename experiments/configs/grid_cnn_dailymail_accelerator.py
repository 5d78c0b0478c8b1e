"""CNN/DailyMail at See et al. (2017)'s settings, for a GPU/TPU. Not run here.

    python experiments/compare.py --config experiments/configs/grid_cnn_dailymail_accelerator.py --download
    python experiments/compare.py --config experiments/configs/grid_cnn_dailymail_accelerator.py \
        --variants additive --set model.coverage=False                       # the pointer alone

Hardware: one accelerator (a Colab L4/A100 GPU or a TPU v2-8); compare.py then trains one run at a
time. TFDS ``cnn_dailymail`` (287,227 training articles, 13,368 validation, 11,490 test); the test
split is scored once, on the best-validation checkpoint.

See et al.'s pointer-generator, as far as this codebase follows it:
- articles cut to 400 tokens, summaries to 100 for training; beam search of 4, at least 35 and at
  most 120 tokens (their settings; trigram blocking is Paulus et al. 2018's addition, switch it off
  with ``--set eval.no_repeat_ngram_size=0`` for their decoding);
- hidden size 256 (our ``d_model`` is also the embedding size; theirs was 128), a bidirectional
  LSTM encoder, an LSTM decoder with input feeding, additive (Bahdanau) attention as in the paper;
- a 50k vocabulary: here a 50k SentencePiece vocabulary, since our pointer copies by in-vocabulary
  ids (their extended vocabulary copied out-of-vocabulary words);
- batch 16 for about 230k steps (their section 5: 230k iterations, 12.8 epochs, for the pointer-
  generator, then 3,000 with coverage).

Coverage follows their schedule: ``model.coverage_start_step = 227_000`` trains the pointer-
generator alone (coverage weights held at zero, coverage loss weighing 0) and turns coverage
(weight 1) on for the last 3,000 of the 230,000 steps (``--set model.coverage_start_step=0`` for
coverage from the first step, which they found interfered with the main objective). The difference
to keep in mind: they trained with Adagrad (0.15, initial accumulator 0.1), this preset with AdamW
1e-3. Run ``--set model.coverage=False`` for their pointer-generator row.

Expected (their Table 1, test split, not measured in this repository): 36.44 / 15.66 / 33.42
ROUGE-1/2/L for the pointer-generator, 39.53 / 17.28 / 36.38 with coverage; Lead-3 40.34 / 17.70 /
36.57. They report 3 days and 4 hours on a Tesla K40m for the pointer model; expect at least most
of a day on one modern GPU for 230k steps (an estimate, not a measurement).
"""

import ml_collections

from experiments.configs import grid_cnn_dailymail


def summarization():
    config = grid_cnn_dailymail.summarization()
    config.data.test_split = "test"
    config.data.vocab_size = 50000
    config.data.max_length = 400
    config.data.bucket_lengths = (400,)
    config.data.max_target_length = 100
    config.data.target_bucket_lengths = (100,)
    config.model.d_model = 256
    config.model.max_length = 400
    config.model.coverage = True
    config.model.coverage_loss_weight = 1.0
    config.model.coverage_start_step = 227_000  # See et al.: coverage for the last 3,000 steps
    config.optimizer.learning_rate = 1e-3
    config.optimizer.warmup_steps = 1000
    config.train.batch_size = 16
    config.train.num_steps = 230_000
    config.train.log_every = 500
    config.train.eval_every = 10_000
    config.train.checkpoint_every = 5_000
    config.data.max_eval_examples = 2000  # checkpoint selection on 2,000 validation articles
    config.eval.min_decode_length = 35
    config.eval.max_decode_length = 120
    return config


def get_config():
    grid = ml_collections.ConfigDict()
    grid.name = "CNN/DailyMail (See et al. 2017 settings)"
    grid.variants = ("additive", "dot", "general", "multihead_scaled_dot", "none")
    grid.seeds = (0,)
    grid.heads = 4
    grid.split = "test"
    grid.benchmarks = {"cnn_dailymail": summarization()}
    grid.baselines = {"cnn_dailymail": ("lead_3",)}
    return grid
