"""The pointer-generator's step: the copy distribution as a scatter-add against the one-hot product,
and the training step of ``seq2seq_rnn`` per attention variant.

1. ``copy``: ``P_copy [B, T, V]`` from attention ``[B, T, S]`` and source ids ``[B, S]``, forward and
   backward: ``attnjax.models.pointer.copy_distribution`` (scatter-add, B*T*S additions) against
   ``weights @ one_hot(ids, V)`` (B*T*S*V multiply-adds), timed in interleaved rounds; the ratio is
   one-hot time over scatter time.
2. ``step``: ``jax.value_and_grad`` of the cross-entropy of ``seq2seq_rnn`` with the pointer (no
   optimizer), per ``--variants``, at the CNN/DailyMail recipe's shape
   (``experiments/configs/grid_cnn_dailymail.py``), interleaved; ``none`` is the model without
   attention or pointer.
3. ``decode``: beam search (4 beams, trigram blocking, ``--decode-len`` tokens, no early stop) of
   ``--decode-batch`` articles with an untrained ``dot`` pointer-generator, the decoder reading the
   keys and values that ``encode`` projected once against projecting the article again at every
   decoded token (what it did before 2026-12-02: ``memory_key_value`` left out of ``encoded``),
   interleaved.

The machine's 2048^3 float32 matmul FLOP/s is measured in the same run and printed beside the times.

    python experiments/benchmarks/pointer_bench.py                       # B=32, S=256, T=80, V=8000, d=128
    python experiments/benchmarks/pointer_bench.py --variants dot additive multihead_scaled_dot none
    python experiments/benchmarks/pointer_bench.py --parts decode           # beam search only
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from attnjax.models import init_model
from attnjax.models.decoding import beam_search, init_cache, make_step_fn
from attnjax.models.pointer import copy_distribution
from experiments.benchmarks.train_bench import matmul_flops_per_second


def one_hot_copy(weights, source_ids, vocab_size):
    return jnp.einsum("bts,bsv->btv", weights, jax.nn.one_hot(source_ids, vocab_size, dtype=jnp.float32))


def _interleaved(contenders: dict, rounds: int) -> dict[str, float]:
    """Median seconds per call of each ``name -> fn()`` (already compiled), in interleaved rounds."""
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def copy_contenders(batch, tgt_len, src_len, vocab):
    keys = jax.random.split(jax.random.key(0), 3)
    weights = jax.nn.softmax(jax.random.normal(keys[0], (batch, tgt_len, src_len)), axis=-1)
    ids = jax.random.randint(keys[1], (batch, src_len), 4, vocab)
    probe = jax.random.normal(keys[2], (batch, tgt_len, vocab))
    out = {}
    for name, fn in (("scatter-add", copy_distribution), ("one-hot product", one_hot_copy)):
        grad = jax.jit(jax.value_and_grad(lambda w, fn=fn: jnp.sum(fn(w, ids, vocab) * probe)))
        jax.block_until_ready(grad(weights))
        out[name] = lambda grad=grad: grad(weights)
    return out


def step_contenders(variants, batch, tgt_len, src_len, vocab, d_model, heads):
    keys = jax.random.split(jax.random.key(1), 2)
    source = jax.random.randint(keys[0], (batch, src_len), 4, vocab)
    targets = jax.random.randint(keys[1], (batch, tgt_len), 4, vocab)
    targets_in = jnp.concatenate([jnp.ones((batch, 1), jnp.int32), targets[:, :-1]], axis=1)
    out = {}
    for variant in variants:
        multi = variant.startswith("multihead_")
        attention = variant.removeprefix("multihead_")
        config = {"model": "seq2seq_rnn", "attention": attention, "num_heads": heads if multi else 1,
                  "vocab_size": vocab, "d_model": d_model, "pointer": attention != "none",
                  "dropout_rate": 0.0, "max_length": src_len}
        model, params = init_model(config, jax.random.key(0))

        def loss(p, model=model):
            log_probs = jax.nn.log_softmax(model.apply({"params": p}, source, targets_in))
            return -jnp.mean(jnp.take_along_axis(log_probs, targets[..., None], axis=-1))

        grad = jax.jit(jax.value_and_grad(loss))
        jax.block_until_ready(grad(params))
        out[variant] = lambda grad=grad, params=params: grad(params)
    return out


def decode_contenders(batch, decode_len, src_len, vocab, d_model, beam=4):
    config = {"model": "seq2seq_rnn", "attention": "dot", "vocab_size": vocab, "d_model": d_model,
              "pointer": True, "dropout_rate": 0.0, "max_length": src_len}
    model, params = init_model(config, jax.random.key(0))
    source = jax.random.randint(jax.random.key(2), (batch, src_len), 4, vocab)

    def decode(source, project_once):
        encoded = model.apply({"params": params}, source, method=model.encode)
        if not project_once:
            encoded = {k: v for k, v in encoded.items() if k != "memory_key_value"}
        encoded = jax.tree.map(lambda x: jnp.repeat(x, beam, axis=0), encoded)
        # eos_id -1: no hypothesis finishes, so both decode exactly decode_len tokens.
        return beam_search(
            make_step_fn(model, params, encoded), init_cache(model, encoded, batch * beam, decode_len),
            batch, beam_size=beam, max_length=decode_len, bos_id=1, eos_id=-1, no_repeat_ngram_size=3,
        )

    out = {}
    for name, once in (("projected once by encode", True), ("projected at every token", False)):
        fn = jax.jit(lambda s, once=once: decode(s, once))
        jax.block_until_ready(fn(source))
        out[name] = lambda fn=fn: fn(source)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--src-len", type=int, default=256)
    parser.add_argument("--tgt-len", type=int, default=80)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=["dot", "additive", "multihead_scaled_dot", "none"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--decode-batch", type=int, default=32)
    parser.add_argument("--decode-len", type=int, default=100)
    parser.add_argument("--parts", nargs="+", default=["copy", "step", "decode"], choices=["copy", "step", "decode"])
    args = parser.parse_args(argv)

    peak = matmul_flops_per_second(jnp.float32)
    print(f"# {jax.devices()[0].platform}: 2048^3 float32 matmul {peak / 1e9:.0f} GFLOP/s")
    shape = f"B={args.batch}, T={args.tgt_len}, S={args.src_len}, V={args.vocab}"
    if "copy" in args.parts:
        copy = _interleaved(copy_contenders(args.batch, args.tgt_len, args.src_len, args.vocab), args.rounds)
        print(f"\n## P_copy forward+backward ({shape}), median of {args.rounds} interleaved rounds\n")
        print("| contender | ms | one-hot / this |\n|---|---:|---:|")
        for name, seconds in copy.items():
            print(f"| {name} | {seconds * 1e3:.1f} | {copy['one-hot product'] / seconds:.2f}x |")
    if "step" in args.parts:
        steps = _interleaved(
            step_contenders(args.variants, args.batch, args.tgt_len, args.src_len, args.vocab, args.d_model, args.heads),
            args.rounds,
        )
        print(f"\n## seq2seq_rnn loss and gradient ({shape}, d_model {args.d_model}), median of {args.rounds} rounds\n")
        print("| variant | ms per step |\n|---|---:|")
        for name, seconds in steps.items():
            print(f"| {name} | {seconds * 1e3:.0f} |")
    if "decode" in args.parts:
        decoded = _interleaved(
            decode_contenders(args.decode_batch, args.decode_len, args.src_len, args.vocab, args.d_model), args.rounds
        )
        print(
            f"\n## beam search, 4 beams, {args.decode_batch} articles of {args.src_len} tokens, {args.decode_len} "
            f"tokens (dot, d_model {args.d_model}, V={args.vocab}), median of {args.rounds} rounds\n"
        )
        print("| memory keys and values | s | every token / this |\n|---|---:|---:|")
        slow = decoded["projected at every token"]
        for name, seconds in decoded.items():
            print(f"| {name} | {seconds:.2f} | {slow / seconds:.2f}x |")

if __name__ == "__main__":
    main()
