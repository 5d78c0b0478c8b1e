"""SST-2 (GLUE) comparison: the classifier of experiments/configs/sst2.py with each attention variant.

    python experiments/compare.py --preset sst2                                # tfds:glue/sst2 (prepared in ~/tensorflow_datasets)
    python experiments/compare.py --preset sst2 --download                     # let TFDS download and prepare it (Colab)
    python experiments/compare.py --preset sst2 --data ../shared/data/sst2 --variants dot,additive,multihead_scaled_dot

Model (sst2.py): one pre-norm Transformer layer (d_model 64, MLP 256, dropout 0.2) and attention
pooling with the variant's score, word vocabulary (16k, lower-cased), AdamW 1e-3, 2,000 steps at
batch 64 (1.9 epochs). Small on purpose: trained from scratch, deeper models overfit SST-2 (the
literature's from-scratch Transformer/LSTM classifiers sit at 0.80-0.85 accuracy; pre-trained ones
above 0.90). GLUE's test labels are hidden, so the table reports validation (872 sentences).

Expected (2-core CPU, one seed, local copy): 0.78-0.82 validation accuracy for every attention
variant, about 4-8 minutes per run; README "Real data" has the measured table.
"""

import ml_collections
from grid import config_module  # experiments/grid.py (compare.py puts experiments/ on sys.path)


def get_grid():
    grid = ml_collections.ConfigDict()
    grid.name = "SST-2"
    grid.variants = ("none", "dot", "scaled_dot", "additive", "multihead_scaled_dot", "multihead_additive")
    grid.seeds = (0,)
    grid.heads = 4
    grid.split = "validation"
    config = config_module("sst2").get_config()
    config.data.test_split = ""  # hidden labels
    grid.tasks = {"sst2": config}
    grid.baselines = {"sst2": ("tfidf_logreg",)}  # needs scikit-learn: pip install 'attnjax[baselines]'
    return grid
