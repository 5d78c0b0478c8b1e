"""experiments/benchmarks/pointer_bench.py on tiny sizes: what it times is the same computation both
ways (timings are not checked)."""

import numpy as np
import pytest

from experiments.benchmarks import pointer_bench


def test_decode_contenders_decode_the_same_sequences():
    contenders = pointer_bench.decode_contenders(batch=2, decode_len=6, src_len=10, vocab=30, d_model=16)
    (once, once_scores), (every, every_scores) = (fn() for fn in contenders.values())
    assert once.shape == (2, 4, 6)
    np.testing.assert_array_equal(once, every)
    np.testing.assert_allclose(once_scores, every_scores, atol=1e-5)


def test_copy_contenders_agree():
    contenders = pointer_bench.copy_contenders(batch=2, tgt_len=3, src_len=5, vocab=11)
    (scatter_loss, scatter_grad), (one_hot_loss, one_hot_grad) = (fn() for fn in contenders.values())
    np.testing.assert_allclose(scatter_loss, one_hot_loss, rtol=1e-5)
    np.testing.assert_allclose(scatter_grad, one_hot_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # a benchmark smoke test (20-45 s on 2 cores): -m slow runs it
def test_tiny_run_prints_every_part(capsys):
    pointer_bench.main([
        "--batch", "2", "--src-len", "10", "--tgt-len", "4", "--vocab", "30", "--d-model", "16", "--heads", "2",
        "--variants", "dot", "none", "--rounds", "1", "--decode-batch", "2", "--decode-len", "5",
    ])
    out = capsys.readouterr().out
    for row in ("| scatter-add |", "| dot |", "| none |", "| projected once by encode |", "| projected at every token |"):
        assert row in out
