"""Naive and convolutional sliding windows on a 14 x 14 classifier.

The network is the sliding-window example of Andrew Ng's course on
convolutional networks: 14x14x3 -> 16 filters 5x5 -> 2x2 max pool -> FC 400 ->
FC 400 -> FC 4, which converts to 400 filters 5x5, 400 1x1 and 4 1x1.
"""

import numpy as np
import pytest

from nnscratch.detection import (
    sliding_window_conv,
    sliding_window_naive,
    sliding_window_stride,
)
from nnscratch.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, fc_to_conv
from nnscratch.model import Sequential


def window_classifier(seed=0):
    """14x14x3 -> 16 filters 5x5 -> 2x2 max pool -> FC 400 -> FC 400 -> FC 4."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(3, 16, 5, dtype=np.float64, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(5 * 5 * 16, 400, dtype=np.float64, rng=rng),
        ReLU(),
        Linear(400, 400, dtype=np.float64, rng=rng),
        ReLU(),
        Linear(400, 4, dtype=np.float64, rng=rng),
    ).eval()


def test_classifier_converts_to_expected_filters():
    converted = fc_to_conv(window_classifier(), (1, 3, 14, 14))
    convs = [layer for layer in converted.layers if isinstance(layer, Conv2d)]
    shapes = [layer.params["weight"].shape for layer in convs]
    assert shapes == [(16, 3, 5, 5), (400, 16, 5, 5), (400, 400, 1, 1),
                      (4, 400, 1, 1)]


@pytest.mark.parametrize("size, expected", [(16, 2), (28, 8)])
def test_conv_sliding_window_equals_crops_at_stride_two(size, expected):
    model = window_classifier()
    image = np.random.default_rng(1).standard_normal((3, size, size))
    scores = sliding_window_conv(model, image, 14)
    assert scores.shape == (4, expected, expected)
    for i in range(expected):
        for j in range(expected):
            crop = image[None, :, 2 * i : 2 * i + 14, 2 * j : 2 * j + 14]
            np.testing.assert_allclose(scores[:, i, j], model.forward(crop)[0],
                                       rtol=0, atol=1e-6)


def test_naive_sliding_window_equals_conv():
    model = window_classifier(2)
    image = np.random.default_rng(3).standard_normal((1, 3, 20, 24))
    stride = sliding_window_stride(model)
    assert stride == (2, 2)
    naive = sliding_window_naive(model, image, 14, stride)
    conv = sliding_window_conv(model, image, 14)
    assert naive.shape == conv.shape == (4, 4, 6)
    np.testing.assert_allclose(naive, conv, rtol=0, atol=1e-10)


def test_naive_sliding_window_batches_give_same_scores():
    model = window_classifier(4)
    image = np.random.default_rng(5).standard_normal((3, 18, 18))
    one = sliding_window_naive(model, image, 14, 2)
    batched = sliding_window_naive(model, image, 14, 2, batch_size=7)
    np.testing.assert_allclose(one, batched, rtol=0, atol=1e-12)


def test_naive_sliding_window_any_stride():
    model = window_classifier(6)
    image = np.random.default_rng(7).standard_normal((3, 20, 20))
    scores = sliding_window_naive(model, image, (14, 14), (3, 6))
    assert scores.shape == (4, 3, 2)
    crop = image[None, :, 3:17, 6:20]
    np.testing.assert_allclose(scores[:, 1, 1], model.forward(crop)[0], atol=1e-12)


def test_sliding_window_rejects_small_image():
    model = window_classifier()
    with pytest.raises(ValueError, match="larger than the image"):
        sliding_window_naive(model, np.zeros((3, 10, 20)), 14, 2)
    with pytest.raises(ValueError, match="larger than the image"):
        sliding_window_conv(model, np.zeros((3, 20, 10)), 14)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        sliding_window_conv(model, np.zeros((2, 3, 20, 20)), 14)
    with pytest.raises(TypeError, match="float32 or float64"):
        sliding_window_conv(model, np.zeros((3, 20, 20), dtype=np.int64), 14)
