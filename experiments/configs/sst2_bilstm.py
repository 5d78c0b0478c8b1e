"""BiLSTM classifier with attention pooling on SST-2 (GLUE), trained from scratch: the CPU recipe of the sst2 grid.

    python experiments/train.py --config experiments/configs/sst2_bilstm.py --workdir runs/sst2_bilstm \
        --config.data.source=../shared/data/sst2 --config.model.attention=additive
    python experiments/compare.py --preset sst2 --data ../shared/data/sst2    # every variant, 3 seeds

Model (the shape of Flax's examples/sst2 and of Lin et al. 2017, sized for a 2-core CPU): word
embeddings (d_model 128) with word dropout 0.1 (a token becomes <unk>, as in Flax's example) and
embedding dropout 0.5; a bidirectional LSTM (128 per direction, outputs 256 wide); attention
pooling, a learned query attending the LSTM states with the variant's score (``none``: mean
pooling); dropout 0.5 on the pooled vector; a linear layer to the 2 classes. The vocabulary is
every word of the 67,349 training phrases (13,828 lower-cased words, under the 16,000 cap);
GLUE's training split is already phrase-level (every SST parse-tree phrase is an example).
Adam(W) 2e-3, 100 warmup steps, cosine decay, 3,200 steps of 64 phrases (3.0 epochs); the best of
the validation checks every 400 steps is kept (early stopping on validation; the test labels are
hidden, so the table reports validation, 872 sentences). Length buckets 8/16/32/64 tokens (56% of
the phrases have at most 8), so the recurrence runs over little padding.

Flax's example uses 300-wide embeddings, 256 LSTM units per direction, an MLP head, dropout 0.5,
word dropout 0.1 and 10 epochs of SGD with momentum, and reports 85.21% validation accuracy;
grid_sst2_accelerator.py carries those sizes (not run here).

Expected (measured 2026-12-07, a 2-core AMD EPYC whose 2048^3 float32 numpy matmul read 120 GFLOP/s,
jax 0.10.2, local copy, 2 runs at a time; README "Real data: SST-2"): scaled_dot 85.2 ± 0.2
(85.1, 85.0, 85.6, the same three numbers as on a 2-core Intel Xeon on 2026-12-03), gaussian 85.2 ± 0.5,
multi-head scaled_dot 85.0 ± 0.1, every other row 84.2-84.7, none 84.2 ± 0.5, TF-IDF 82.2 (82.6 fitted to its optimum since 2026-12-08); 221-491 s a
run, 30 runs in 83 minutes. The additive rows were re-run after attention pooling with the additive
score became keys-only (``v . tanh(U k + b)``, commit 68ced9d; before it their learned query grew
into a bias that saturated the tanh within 100 steps, so they were mean pooling plus projections):
additive 84.8 ± 0.1, multi-head additive 85.2 ± 0.4 (2026-12-07, 350 and 423 s a run).

History of the recipe (validation only, scaled_dot unless said; README has the commands): the
one-layer Transformer of sst2.py, 80.7 ± 0.8; this BiLSTM at d_model 64 with batch 128 x 1,600
steps (the preset until 2026-12-07), best row gaussian 84.6 ± 0.4, scaled_dot 84.4 ± 0.5, 30-74 s a
run; at d_model 64: 3,200 steps 84.4 (no gain), SentencePiece (8,000 unigram pieces, for the 6.3% of
validation words unseen in training) 84.0 (84.3, 83.7, 83.9; no gain); d_model 128 with batch 128 x
1,600, 84.9; d_model 128 with hashed bigrams, 82.6 on seed 1 (overfits); d_model 256, about 800 s a
run (over budget); on top of this recipe, 256-wide embeddings into the 128-unit LSTM
(``model.embed_dim``, Flax's proportions; 85.1, 84.9 on seeds 0-1) and Polyak averaging
(``optimizer.ema_decay=0.999``; 84.7, 85.0) and half the learning rate (1e-3: 85.2, 85.2, 84.9)
gave nothing; nor did Flax's tanh MLP head (``model.head_hidden=128``: 84.9, 85.1, 85.7), and the
head with Flax's dropout 0.5 on the BiLSTM states (``model.encoder_dropout_rate=0.5``) was worse
(85.0, 84.1, 84.7). Adversarial training on the embeddings (Miyato et al. 2017,
``model.adversarial_epsilon``; twice a step's cost): 0.1 gave 85.4 on seeds 0-2 (85.2, 85.6, 85.6)
and 85.2 on seeds 3-5 (the recipe there 85.0), 0.3 gave 85.0, 1.0 did not learn: not adopted.
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
    # d_model 128 (128 LSTM units per direction) with batch 64: the widest LSTM whose runs fit the
    # 10-minute budget here; 3 epochs in 3,200 updates (batch 128 x 1,600 at this width: 84.9).
    config.model.d_model = 128
    config.optimizer.learning_rate = 2e-3
    config.optimizer.warmup_steps = 100
    config.train.batch_size = 64
    config.train.num_steps = 3200
    config.train.eval_every = 400
    config.train.checkpoint_every = 1600
    return config
