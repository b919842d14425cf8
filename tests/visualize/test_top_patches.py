"""Top-patch selection, cropping and the filter grid."""

import numpy as np
import pytest

from nnscratch.layers import BatchNorm2d, Conv2d, MaxPool2d, ReLU
from nnscratch.model import Sequential
from nnscratch.visualize import (
    crop_patch,
    filter_grid,
    max_activations,
    top_images,
    unit_layers,
)
from nnscratch.visualize.filters import GAP
from nnscratch.visualize.top_patches import PADDING_COLOUR


def small_model():
    return Sequential(Conv2d(1, 3, 3, padding=1), BatchNorm2d(3), ReLU(), MaxPool2d(2),
                      Conv2d(3, 4, 3, padding=1), ReLU()).eval()


def brute_force_top(values, k):
    """Sort each channel's images by activation with a plain Python sort."""
    N, F = values.shape
    return [sorted(range(N), key=lambda n: (-values[n, f], n))[:k] for f in range(F)]


def test_top_images_equals_brute_force_sort():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, (40, 5)).astype(np.float32)  # many ties
    np.testing.assert_array_equal(top_images(values, 9), brute_force_top(values, 9))


def test_top_images_with_fewer_images_than_k():
    values = np.array([[1.0], [3.0], [2.0]])
    np.testing.assert_array_equal(top_images(values, 9), [[1, 2, 0]])


def test_max_activations_equals_loop_reference():
    model = small_model()
    images = np.random.default_rng(1).random((7, 1, 8, 8)).astype(np.float32)
    taps = unit_layers(model)
    assert taps == [2, 5]
    found = max_activations(model, [images[:4], images[4:]], taps)

    outputs = {}
    x = images
    for index, layer in enumerate(model.layers):
        x = layer.forward(x)
        outputs[index] = x
    for tap in taps:
        values, rows, columns = found[tap]
        out = outputs[tap]
        for n in range(out.shape[0]):
            for f in range(out.shape[1]):
                best = max((out[n, f, i, j], -i, -j) for i in range(out.shape[2])
                           for j in range(out.shape[3]))
                assert values[n, f] == best[0]
                assert (rows[n, f], columns[n, f]) == (-best[1], -best[2])


def test_unit_layers_takes_activation_after_conv():
    model = Sequential(Conv2d(3, 2, 3), BatchNorm2d(2), ReLU(), Conv2d(2, 2, 3),
                       MaxPool2d(2), Conv2d(2, 2, 1), ReLU(), Conv2d(2, 2, 1))
    assert unit_layers(model) == [2, 3, 6]
    assert unit_layers(model, count=4) == [2, 3, 6, 7]


def test_crop_patch_pads_outside_the_image():
    image = np.random.default_rng(2).random((5, 6, 3)).astype(np.float32)
    patch = crop_patch(image, (-2, 3, 4, 8))
    assert patch.shape == (5, 4, 3)
    np.testing.assert_array_equal(patch[2:, :2], image[0:3, 4:6])
    padding = np.asarray(PADDING_COLOUR, np.float32) / 255
    np.testing.assert_array_equal(patch[:2], np.broadcast_to(padding, (2, 4, 3)))
    np.testing.assert_array_equal(patch[2:, 2:], np.broadcast_to(padding, (3, 2, 3)))


def test_crop_patch_wholly_inside_is_a_copy():
    image = np.random.default_rng(3).random((5, 6, 3)).astype(np.float32)
    np.testing.assert_array_equal(crop_patch(image, (1, 4, 2, 5)), image[1:4, 2:5])


def test_filter_grid_layout_and_signs():
    weight = np.zeros((3, 1, 2, 2))
    weight[0, 0, 0, 0] = 2.0
    weight[0, 0, 1, 1] = -2.0
    grid = filter_grid(weight, scale=4, columns=3)
    assert grid.shape == (2 * GAP + 8, 4 * GAP + 3 * 8, 3)
    assert tuple(grid[GAP, GAP]) == (255, 255, 255)  # largest positive weight
    assert tuple(grid[GAP + 4, GAP + 4]) == (0, 0, 0)  # largest negative weight
    assert tuple(grid[GAP, GAP + 4]) == (128, 128, 128)  # zero weight
    zero_tile = grid[GAP:GAP + 8, 2 * GAP + 8:2 * GAP + 16]
    assert np.all(zero_tile == 128)  # an all-zero filter stays mid-grey


def test_filter_grid_rejects_deep_filters():
    with pytest.raises(ValueError, match="first layer"):
        filter_grid(np.zeros((4, 8, 3, 3)))
