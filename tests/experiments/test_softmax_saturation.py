import pytest

from experiments import softmax_saturation


def test_unscaled_dot_at_large_key_width_starts_saturated_and_scaled_does_not():
    # Vaswani et al. (2017), section 3.2.1, at the default grid's initialisation: the unscaled
    # d_k=256 softmax starts near one-hot, the scaled one near uniform (1/16 here).
    rows = softmax_saturation.measure(["dot_k256", "scaled_dot_k256"], seeds=[0], batch=8, length=16)
    weight = {(r["variant"], r["layer"].split("/")[0]): r["mean"] for r in rows}
    assert set(weight) == {(v, layer) for v in ("dot_k256", "scaled_dot_k256") for layer in ("encoder", "pooling")}
    for layer in ("encoder", "pooling"):
        assert weight["dot_k256", layer] > 0.4 and weight["scaled_dot_k256", layer] < 0.2
    text = softmax_saturation.markdown(rows, 16, [0])
    assert "| dot_k256 | pooling/attention |" in text and "uniform: 0.062" in text


def test_bad_arguments_are_refused_before_any_work(capsys):
    with pytest.raises(SystemExit):
        softmax_saturation.main(["--variants", "nonesuch"])
    assert "nonesuch" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        softmax_saturation.main(["--length", "1"])
    assert "--length 1" in capsys.readouterr().err
