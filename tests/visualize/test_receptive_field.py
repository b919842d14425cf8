"""Receptive-field arithmetic against a brute-force perturbation check."""

import numpy as np
import pytest

from nnscratch.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
)
from nnscratch.model import Sequential
from nnscratch.visualize import receptive_fields
from nnscratch.visualize.receptive_field import format_receptive_fields


def positive_model(*layers):
    """Make every weight positive and every bias 0, in float64, in eval mode.

    With positive weights and inputs, and increasing activations, a large
    increase of one input pixel raises every unit that depends on it, and
    wins every max-pool window it enters, so the units that change are
    exactly the units whose receptive field contains the pixel.
    """
    model = Sequential(*layers).astype(np.float64).eval()
    rng = np.random.default_rng(0)
    for _, layer in model.named_layers():
        if isinstance(layer, Conv2d):
            layer.params["weight"] = rng.uniform(0.1, 1.0, layer.params["weight"].shape)
            if "bias" in layer.params:
                layer.params["bias"][:] = 0.0
        if isinstance(layer, BatchNorm2d):
            layer.params["weight"][:] = rng.uniform(0.5, 2.0, layer.params["weight"].shape)
            layer.params["bias"][:] = 0.0
            layer.buffers["running_mean"][:] = 0.0
    return model


ARCHITECTURES = {
    "conv_bn_maxpool_avgpool": lambda: positive_model(
        Conv2d(1, 2, 3, padding=1), BatchNorm2d(2), LeakyReLU(0.1), MaxPool2d(2),
        Conv2d(2, 2, 3, stride=2), ReLU(), AvgPool2d(3, stride=1, padding=1),
        Conv2d(2, 1, 5, padding=2)),
    "rectangular_strided_same": lambda: positive_model(
        Conv2d(1, 2, (3, 5), stride=(2, 1), padding=(1, 2)), ReLU(),
        MaxPool2d(3, stride=2, padding=1), Conv2d(2, 2, 2, padding="same"),
        AvgPool2d(2)),
}


def changed_units(model, image, row, column):
    """Return the output positions (i, j) that change when one pixel jumps."""
    before = model.forward(image)
    bumped = image.copy()
    bumped[0, 0, row, column] += 1e6
    after = model.forward(bumped)
    changed = np.any(after != before, axis=(0, 1))  # (OH, OW)
    return set(zip(*np.nonzero(changed)))


def units_containing(field, out_shape, row, column):
    """Return the output positions whose computed field contains (row, column)."""
    units = set()
    for i in range(out_shape[2]):
        for j in range(out_shape[3]):
            y1, y2, x1, x2 = field.unit_bounds(i, j)
            if y1 <= row < y2 and x1 <= column < x2:
                units.add((i, j))
    return units


# Input sizes for which no layer drops rows or columns past its last full
# window, so every pixel in a unit's window reaches the unit.
EXACT_SIZES = {"conv_bn_maxpool_avgpool": (18, 18), "rectangular_strided_same": (13, 15)}


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_receptive_field_matches_perturbation(architecture):
    model = ARCHITECTURES[architecture]()
    image = np.random.default_rng(1).uniform(0.1, 1.0, (1, 1, *EXACT_SIZES[architecture]))
    field = receptive_fields(model)[-1]
    out_shape = model.forward(image).shape
    for row in range(image.shape[2]):
        for column in range(image.shape[3]):
            expected = units_containing(field, out_shape, row, column)
            assert changed_units(model, image, row, column) == expected, (row, column)


def test_window_bounds_dependence_when_rows_are_dropped():
    # At 19x17 the max pool and the strided conv drop the last rows and
    # columns, and pixels there reach no unit, so the window is an upper bound.
    model = ARCHITECTURES["conv_bn_maxpool_avgpool"]()
    image = np.random.default_rng(1).uniform(0.1, 1.0, (1, 1, 19, 17))
    field = receptive_fields(model)[-1]
    out_shape = model.forward(image).shape
    strict = 0
    for row in range(image.shape[2]):
        for column in range(image.shape[3]):
            expected = units_containing(field, out_shape, row, column)
            changed = changed_units(model, image, row, column)
            assert changed <= expected, (row, column)
            strict += changed != expected
    assert strict > 0


def test_every_prefix_matches_perturbation():
    # Each layer's field, not only the last, is checked on a truncated model.
    layers = ARCHITECTURES["conv_bn_maxpool_avgpool"]().layers
    fields = receptive_fields(Sequential(*layers))
    image = np.random.default_rng(2).uniform(0.1, 1.0, (1, 1, 18, 18))
    for depth in range(1, len(layers) + 1):
        prefix = Sequential(*layers[:depth])
        out_shape = prefix.forward(image).shape
        for row, column in [(0, 0), (7, 3), (17, 17), (2, 13)]:
            expected = units_containing(fields[depth - 1], out_shape, row, column)
            assert changed_units(prefix, image, row, column) == expected, depth


def test_known_values_of_two_conv_pool_stages():
    model = Sequential(Conv2d(1, 4, 5, padding=2), ReLU(), MaxPool2d(2),
                       Conv2d(4, 4, 5, padding=2), ReLU(), MaxPool2d(2))
    fields = receptive_fields(model)
    assert [f.size[0] for f in fields] == [5, 5, 6, 14, 14, 16]
    assert [f.jump[0] for f in fields] == [1, 1, 2, 2, 2, 4]
    assert [f.offset[0] for f in fields] == [-2, -2, -2, -6, -6, -6]
    assert fields[-1].start == (1.5, 1.5)


def test_walk_stops_at_flatten():
    model = Sequential(Conv2d(1, 2, 3), Flatten(), Linear(8, 2))
    fields = receptive_fields(model)
    assert len(fields) == 1
    assert "Conv2d" in format_receptive_fields(fields)


def test_unknown_layer_raises_not_implemented():
    from nnscratch.layers.base import Layer

    class Shift(Layer):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="Shift"):
        receptive_fields(Sequential(Conv2d(1, 1, 3), Shift()))
