"""Dropout: gradient with a fixed mask, eval identity, keep rate and scaling."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch import manual_seed
from nnscratch.layers import Dropout

shapes = st.sampled_from([(4,), (3, 5), (2, 3, 2, 2)])


@given(shape=shapes, seed=seeds, p=st.sampled_from([0.0, 0.2, 0.5, 0.9]))
def test_dropout_gradients_match_central_differences(shape, seed, p):
    layer = Dropout(p)

    def reset_mask():
        # The same generator state before every pass gives the same mask.
        layer.rng = np.random.default_rng(seed)

    check_layer_gradients(layer, normal_array(seed, shape), seed=seed,
                          before_forward=reset_mask)


def test_dropout_eval_mode_is_identity():
    layer = Dropout(0.5).eval()
    x = normal_array(0, (3, 4))
    np.testing.assert_array_equal(layer.forward(x), x)
    dout = normal_array(1, (3, 4))
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_dropout_keeps_fraction_and_scales_survivors():
    p = 0.3
    layer = Dropout(p, rng=np.random.default_rng(5))
    x = np.ones(200_000)
    out = layer.forward(x)
    kept = out != 0
    # Binomial standard deviation of the kept fraction is about 0.001.
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-15)
    dx = layer.backward(np.full(x.shape, 2.0))
    np.testing.assert_array_equal(dx != 0, kept)
    np.testing.assert_allclose(dx[kept], 2 / (1 - p), rtol=1e-15)


def test_dropout_mask_is_reproducible_with_manual_seed():
    x = np.ones((4, 8), dtype=np.float32)
    manual_seed(123)
    first = Dropout(0.5).forward(x)
    manual_seed(123)
    second = Dropout(0.5).forward(x)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=repr(p)):
        Dropout(p)


def test_dropout_rejects_integer_input():
    with pytest.raises(TypeError, match="int64"):
        Dropout(0.5).forward(np.arange(6))


def test_dropout_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout(0.5).backward(np.ones(3))
