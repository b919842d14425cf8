"""fc_to_conv: a Flatten + Linear head and its convolutional copy agree."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch import Sequential
from nnscratch.layers import (
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    fc_to_conv,
    linear_to_conv,
)


def course_net(hidden=8, classes=4, seed=0):
    """The course's sliding-window net with narrower FC layers:
    14x14x3 -> conv 5x5 (16) -> 10x10x16 -> max pool 2 -> 5x5x16 -> FC -> FC -> FC."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(3, 16, 5, dtype=np.float64, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(16 * 5 * 5, hidden, dtype=np.float64, rng=rng),
        ReLU(),
        Dropout(0.5),
        Linear(hidden, hidden, dtype=np.float64, rng=rng),
        ReLU(),
        Linear(hidden, classes, dtype=np.float64, rng=rng),
    ).eval()


@given(seed=seeds, batch=st.integers(1, 3))
def test_converted_head_gives_same_outputs(seed, batch):
    model = course_net(seed=seed)
    converted = fc_to_conv(model, (1, 3, 14, 14))
    x = normal_array(seed, (batch, 3, 14, 14))
    out = model.forward(x)
    out_conv = converted.forward(x)
    assert out_conv.shape == (batch, 4, 1, 1)
    np.testing.assert_allclose(out_conv[:, :, 0, 0], out, rtol=1e-12, atol=1e-12)


def test_converted_net_slides_over_larger_image():
    # On 16x16 the converted net returns 2x2 positions: the 14x14 windows at
    # stride 2, the product of the strides before the head.
    model = course_net(seed=1)
    converted = fc_to_conv(model, (1, 3, 14, 14))
    image = normal_array(2, (1, 3, 16, 16))
    out = converted.forward(image)
    assert out.shape == (1, 4, 2, 2)
    for row in range(2):
        for col in range(2):
            window = image[:, :, 2 * row : 2 * row + 14, 2 * col : 2 * col + 14]
            np.testing.assert_allclose(out[:, :, row, col], model.forward(window),
                                       rtol=1e-12, atol=1e-12)
    assert converted.output_shape((1, 3, 28, 28)) == (1, 4, 8, 8)


def test_converted_layers_are_convolutions_of_the_course_shapes():
    converted = fc_to_conv(course_net(hidden=400), (1, 3, 14, 14))
    convs = [layer for layer in converted.layers if isinstance(layer, Conv2d)]
    assert [conv.params["weight"].shape for conv in convs] == [
        (16, 3, 5, 5), (400, 16, 5, 5), (400, 400, 1, 1), (4, 400, 1, 1)
    ]
    assert not any(isinstance(layer, (Flatten, Linear)) for layer in converted.layers)


def test_conversion_copies_weights():
    model = course_net()
    converted = fc_to_conv(model, (1, 3, 14, 14))
    converted.layers[3].params["weight"][...] = 0
    assert np.any(model.layers[4].params["weight"] != 0)


def test_converted_model_keeps_train_mode():
    model = course_net().train()
    assert fc_to_conv(model, (1, 3, 14, 14)).training


def test_linear_to_conv_rejects_wrong_feature_map():
    linear = Linear(12, 2)
    with pytest.raises(ValueError, match=r"\(3, 2, 3\)"):
        linear_to_conv(linear, (3, 2, 3))


def test_fc_to_conv_rejects_linear_before_flatten():
    model = Sequential(Linear(4, 2))
    with pytest.raises(ValueError, match="before any Flatten"):
        fc_to_conv(model, (1, 4))


def test_conversion_leaves_library_generator_untouched():
    from nnscratch import init

    model = course_net()
    state = init.get_rng_state()
    fc_to_conv(model, (1, 3, 14, 14))
    assert init.get_rng_state() == state
