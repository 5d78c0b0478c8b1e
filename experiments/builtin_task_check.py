"""Does attention beat a no-attention baseline on the built-in tasks? A self-contained check.

Two tiny flax.linen models share everything but attention:
  ``bag``:       token embeddings, no positions, no interaction between tokens;
  ``attention``: token + position embeddings, then ``--layers`` pre-norm self-attention blocks
                 (``attnjax.ops.attention`` with a key padding mask) each followed by an MLP.
Tasks:
  ``sentiment``: mean-pool -> MLP -> 2 classes; metric: validation accuracy.
  ``salient_summary``: the first step of copying the summary, as a pointer: score every document
     token, softmax over positions, target = the salient event's agent (the summary's 2nd word);
     metric: validation pointer accuracy (chance among the 6-12 agents is ~1/9).

    python experiments/builtin_task_check.py --task sentiment --steps 1500
    python experiments/builtin_task_check.py --task salient_summary --steps 1500
"""

from __future__ import annotations

import argparse
import json
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from attnjax.data import BatchIterator, encode_examples, load_split, train_tokenizer
from attnjax.ops import attention, key_padding_mask


class Encoder(nn.Module):
    """``inputs [B, L]`` ids -> ``[B, L, width]`` token states (no mixing when ``layers == 0``)."""

    vocab_size: int
    width: int = 64
    heads: int = 4
    layers: int = 1
    max_length: int = 512

    @nn.compact
    def __call__(self, inputs, mask):
        h = nn.Embed(self.vocab_size, self.width)(inputs)
        if self.layers == 0:
            return h
        h = h + nn.Embed(self.max_length, self.width)(jnp.arange(inputs.shape[1]))[None]
        head_dim = self.width // self.heads
        for _ in range(self.layers):
            x = nn.LayerNorm()(h)
            q, k, v = (nn.DenseGeneral((self.heads, head_dim))(x) for _ in range(3))
            out = attention(q, k, v, mask=key_padding_mask(mask))
            h = h + nn.DenseGeneral(self.width, axis=(-2, -1))(out)
            h = h + nn.Dense(self.width)(nn.gelu(nn.Dense(2 * self.width)(nn.LayerNorm()(h))))
        return h


class Classifier(nn.Module):
    vocab_size: int
    layers: int

    @nn.compact
    def __call__(self, inputs, mask):
        h = Encoder(self.vocab_size, layers=self.layers)(inputs, mask)
        weights = mask[..., None].astype(h.dtype)
        pooled = (h * weights).sum(1) / jnp.maximum(weights.sum(1), 1.0)
        return nn.Dense(2)(nn.gelu(nn.Dense(64)(pooled)))


class Pointer(nn.Module):
    vocab_size: int
    layers: int

    @nn.compact
    def __call__(self, inputs, mask):
        h = Encoder(self.vocab_size, layers=self.layers)(inputs, mask)
        scores = nn.Dense(1)(nn.gelu(nn.Dense(64)(h)))[..., 0]
        return jnp.where(mask.astype(bool), scores, -1e9)


def pointer_targets(examples, tokenizer, encoded) -> np.ndarray:
    """Position of the salient agent (the summary's 2nd word) in each document's ids."""
    targets = []
    for example, ids in zip(examples, encoded.inputs):
        agent = tokenizer.encode(example["summary"])[1]
        targets.append(int(np.flatnonzero(ids == agent)[0]))
    return np.asarray(targets, np.int32)


def run(task: str, layers: int, steps: int, batch_size: int, seed: int, num_train: int, num_eval: int,
        buckets: tuple[int, ...] | None = None) -> dict:
    """Trains one model on ``builtin:<task>`` and returns its validation accuracy (and timings).

    ``buckets`` are the padded lengths (each compiles the step once; default two per task).
    """
    sizes = {"train": num_train, "validation": num_eval}
    train = load_split(f"builtin:{task}", "train", num_examples=sizes, seed=seed)
    valid = load_split(f"builtin:{task}", "validation", num_examples=sizes, seed=seed)
    text = "text" if task == "sentiment" else "document"
    tokenizer = train_tokenizer("word", (e[text] for e in train))
    buckets = buckets or ((32, 48) if task == "sentiment" else (128, 192))
    train_enc, valid_enc = (encode_examples(s, tokenizer, max_length=buckets[-1], max_target_length=16) for s in (train, valid))
    if task == "salient_summary":
        train_enc.labels, valid_enc.labels = pointer_targets(train, tokenizer, train_enc), pointer_targets(valid, tokenizer, valid_enc)
        train_enc.targets = valid_enc.targets = None
    model = (Classifier if task == "sentiment" else Pointer)(tokenizer.vocab_size, layers)
    batches = BatchIterator(train_enc, batch_size, bucket_lengths=buckets, seed=seed, process_index=0, process_count=1)
    first = next(batches)
    params = model.init(jax.random.key(seed), first["inputs"], first["input_mask"])
    optimizer = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, 3e-3, 100, steps), weight_decay=0.01)
    opt_state = optimizer.init(params)

    def loss_fn(params, batch):
        logits = model.apply(params, batch["inputs"], batch["input_mask"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"]).mean()

    @jax.jit
    def step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def correct(params, batch):
        predictions = model.apply(params, batch["inputs"], batch["input_mask"]).argmax(-1)
        return ((predictions == batch["labels"]) * batch["example_mask"]).sum()

    start = time.perf_counter()
    batch = first
    for _ in range(steps):
        params, opt_state, loss = step(params, opt_state, batch)
        batch = next(batches)
    evaluation = BatchIterator(valid_enc, 256, bucket_lengths=buckets, shuffle=False, drop_remainder=False,
                               num_epochs=1, process_index=0, process_count=1)
    accuracy = sum(int(correct(params, b)) for b in evaluation) / len(valid_enc)
    return {"task": task, "layers": layers, "model": "attention" if layers else "bag", "steps": steps,
            "final_train_loss": round(float(loss), 4), "validation_accuracy": round(accuracy, 4),
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("sentiment", "salient_summary"), default="sentiment")
    parser.add_argument("--layers", type=int, nargs="+", default=[0, 1, 2], help="0 = bag baseline")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-eval", type=int, default=2000)
    args = parser.parse_args()
    for layers in args.layers:
        print(json.dumps(run(args.task, layers, args.steps, args.batch_size, args.seed, args.num_train, args.num_eval)), flush=True)


if __name__ == "__main__":
    main()
