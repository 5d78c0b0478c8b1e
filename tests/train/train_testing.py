"""Small configs that train in seconds, shared by the training tests."""

from attnjax.train import default_config


def tiny_classification(steps: int = 12, **changes):
    """A 1-layer classifier on 512 built-in sentiment examples; every phase happens within ``steps``."""
    config = default_config()
    config.data.options = {"num_examples": {"train": 512, "validation": 64, "test": 64}}
    config.data.bucket_lengths = (64,)
    config.model.d_model = 16
    config.model.num_heads = 2
    config.model.num_layers = 1
    config.model.mlp_dim = 32
    config.train.batch_size = 16
    config.train.num_steps = steps
    config.train.log_every = 2
    config.train.eval_every = 4
    config.train.checkpoint_every = 4
    config.train.progress = False
    config.eval.batch_size = 32
    config.optimizer.warmup_steps = 2
    for dotted, value in changes.items():
        group, field = dotted.split("__")
        config[group][field] = value
    return config


def tiny_summarization(steps: int = 8, **changes):
    config = tiny_classification(steps)
    config.task = "summarization"
    config.data.source = "builtin:salient_summary"
    config.data.options = {"num_examples": {"train": 256, "validation": 16, "test": 16}}
    config.data.max_length = 128
    config.data.bucket_lengths = (128,)
    config.data.max_target_length = 16
    config.data.target_bucket_lengths = (16,)
    config.model.model = "seq2seq_transformer"
    config.model.num_decoder_layers = 1
    config.eval.best_metric = "rougeL"
    config.eval.max_decode_length = 16
    config.eval.max_decode_examples = 8
    for dotted, value in changes.items():
        group, field = dotted.split("__")
        config[group][field] = value
    return config
