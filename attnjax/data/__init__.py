"""attnjax.data: real and built-in data sets, tokenizers and resumable batching (numpy; no TensorFlow).

Sources are named by a string: ``tfds:imdb_reviews``, ``tfds:glue/sst2``, ``tfds:cnn_dailymail``,
``tfds:gigaword``, ``tfds:xsum`` (``data_dir=``), local files (``file:<path>`` or a bare path to a
``.tsv``/``.csv``/``.jsonl``/``.jsonl.gz`` file, a ``<label>/*.txt`` directory, or a directory of
per-split files; ``fields=``, ``label_names=``), and ``builtin:sentiment`` / ``builtin:salient_summary``
(generated from ``seed=``, no files).

>>> from attnjax.data import load_split, train_tokenizer, encode_examples, BatchIterator
>>> train = load_split("builtin:sentiment", "train", seed=0)       # [{"text": str, "label": int}, ...]
>>> tok = train_tokenizer("word", (e["text"] for e in train), lower=True)
>>> data = encode_examples(train, tok, max_length=64)
>>> it = BatchIterator(data, batch_size=32, bucket_lengths=(32, 64), seed=0)
>>> batch = next(it)                                                 # {"inputs": int32 [32, L], ...}
>>> state = it.get_state()                                           # resume later with it.set_state(state)
"""

from attnjax.data import builtin_datasets, tfds_source  # noqa: F401  (register the tfds: and builtin: kinds)
from attnjax.data.batching import BatchIterator, EncodedExamples, encode_examples
from attnjax.data.builtin_datasets import BUILTIN_DATASETS, BuiltinDataset, generate
from attnjax.data.schema import SCHEMAS, Schema
from attnjax.data.sources import SOURCE_KINDS, Source, load_split, open_source, split_of
from attnjax.data.splits import SPLITS, ExampleSequence, carve_validation
from attnjax.data.tfds_source import TFDS_DATASETS
from attnjax.data.tokenizers import (
    TOKENIZERS,
    ByteTokenizer,
    Normalizer,
    SentencePieceTokenizer,
    Tokenizer,
    WordTokenizer,
    load_or_train_tokenizer,
    load_tokenizer,
    train_tokenizer,
)

__all__ = [
    "BUILTIN_DATASETS",
    "BuiltinDataset",
    "BatchIterator",
    "ByteTokenizer",
    "EncodedExamples",
    "ExampleSequence",
    "Normalizer",
    "SOURCE_KINDS",
    "SCHEMAS",
    "SPLITS",
    "Schema",
    "SentencePieceTokenizer",
    "Source",
    "TFDS_DATASETS",
    "TOKENIZERS",
    "Tokenizer",
    "WordTokenizer",
    "carve_validation",
    "encode_examples",
    "generate",
    "load_or_train_tokenizer",
    "load_split",
    "load_tokenizer",
    "open_source",
    "split_of",
    "train_tokenizer",
]
