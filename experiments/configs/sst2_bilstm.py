"""BiLSTM classifier with attention pooling on SST-2 (GLUE), trained from scratch: the CPU recipe of the sst2 grid.

    python experiments/train.py --config experiments/configs/sst2_bilstm.py --workdir runs/sst2_bilstm \
        --config.data.source=../shared/data/sst2 --config.model.attention=additive
    python experiments/compare.py --preset sst2 --data ../shared/data/sst2    # every variant, 3 seeds

Model (the shape of Flax's examples/sst2 and of Lin et al. 2017, sized for a 2-core CPU): word
embeddings (d_model 64) with word dropout 0.1 (a token becomes <unk>, as in Flax's example) and
embedding dropout 0.5; a bidirectional LSTM (64 per direction, outputs 128 wide); attention
pooling, a learned query attending the LSTM states with the variant's score (``none``: mean
pooling); dropout 0.5 on the pooled vector; a linear layer to the 2 classes. The vocabulary is
every word of the 67,349 training phrases (13,828 lower-cased words, under the 16,000 cap);
GLUE's training split is already phrase-level (every SST parse-tree phrase is an example).
Adam(W) 2e-3, 100 warmup steps, cosine decay, 1,600 steps of 128 phrases (3.0 epochs); the best of
the validation checks every 200 steps is kept (early stopping on validation; the test labels are
hidden, so the table reports validation, 872 sentences). Length buckets 8/16/32/64 tokens (56% of
the phrases have at most 8), so the recurrence runs over little padding.

Flax's example uses 300-wide embeddings, 256 LSTM units per direction, an MLP head, dropout 0.5,
word dropout 0.1 and 10 epochs of SGD with momentum, and reports 85.21% validation accuracy;
grid_sst2_accelerator.py carries those sizes (not run here). Tried on this CPU before this recipe:
the one-layer Transformer of sst2.py (80.7 ± 0.8 over 3 seeds with scaled_dot, README "Real data");
a BiLSTM with d_model 128, batch 64, dropout only on the pooled vector (77.4 at step 500, stopped:
too slow on the loaded machine); this recipe at d_model 128 (stopped at step 150: 2.5x the step
time of d_model 64). Kept at d_model 64 for the CPU budget.

Measured (2026-12-02, idle 2-core AMD EPYC, local copy; README "Real data: SST-2"): best validation
accuracy over seeds 0-2 from 83.7 (additive) to 84.6 (gaussian) for the attention rows, none 83.4,
TF-IDF 82.2; 30-74 s per run. Tried on scaled_dot: 3,200 steps (84.4, no gain) and d_model 128
(84.9, +0.5, not adopted: short of 85.5 and the other rows unmeasured at that width); d_model 128
with hashed bigrams (82.6 on seed 1, overfits); d_model 256 (about 800 s a run, over budget);
d_model 128 with batch 64 x 3,200 steps (scaled_dot 85.2, gaussian 85.2, 162-373 s a run on a
2-core Intel Xeon, 2026-12-03; the best reached; 6 of the 10 rows measured there, so not adopted
until the grid at that width is complete: additive's runs took 497-766 s, multi-head additive
was not reached). On top of that, 256-wide embeddings into the 128-unit LSTM (``model.embed_dim``,
Flax's proportions; 85.1, 84.9 on seeds 0-1) and Polyak averaging (``optimizer.ema_decay=0.999``;
84.7, 85.0) gave nothing (2026-12-03, AMD EPYC). README "Real data: SST-2" has the commands and the
partial table.
"""

from experiments.configs import sst2


def get_config():
    # sst2.py's data and evaluation; what differs is the encoder, the regularisation and the schedule.
    config = sst2.get_config()
    config.data.bucket_lengths = (8, 16, 32, 64)
    config.model.encoder = "lstm"
    config.model.attention = "additive"
    # mlp_dim (256) is unused by the LSTM encoder; kept so the run keys of measured runs stay valid.
    config.model.dropout_rate = 0.5
    config.model.embedding_dropout_rate = 0.5
    config.model.word_dropout_rate = 0.1
    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 100
    config.train.batch_size = 128
    config.train.num_steps = 1600
    config.train.eval_every = 200
    config.train.checkpoint_every = 800
    return config
