import numpy as np
import pytest

from attnjax.data import ExampleSequence, carve_validation


def test_carve_is_deterministic_disjoint_and_complete():
    train, validation = carve_validation(1000, 0.1, seed=3)
    again = carve_validation(1000, 0.1, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(validation, again[1])
    assert len(validation) == 100 and len(train) == 900
    assert not set(train) & set(validation)
    assert np.array_equal(np.sort(np.concatenate([train, validation])), np.arange(1000))
    assert not np.array_equal(validation, carve_validation(1000, 0.1, seed=4)[1])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5])
def test_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r"validation_fraction must be in \(0, 1\)"):
        carve_validation(10, fraction, 0)


def test_too_small_to_carve():
    with pytest.raises(ValueError, match="at least 2"):
        carve_validation(1, 0.1, 0)


def test_example_sequence_converts_lazily_and_subsets():
    calls = []

    def convert(row, i):
        calls.append(i)
        return {"text": row, "label": i % 2}

    seq = ExampleSequence(["a", "b", "c", "d"], convert)
    assert calls == []
    sub = seq.subset([3, 1])
    assert len(sub) == 2 and sub[0] == {"text": "d", "label": 1} and list(sub[::-1]) == [{"text": "b", "label": 1}, {"text": "d", "label": 1}]
