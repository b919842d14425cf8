"""Bad input raises a clear error that names the offending value."""

import re

import numpy as np
import pytest

from nnscratch.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)


def image(*shape, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


FOUR_D_LAYERS = [
    lambda: Conv2d(3, 2, 3),
    lambda: MaxPool2d(2),
    lambda: AvgPool2d(2),
    lambda: GlobalAvgPool2d(),
    lambda: BatchNorm2d(3),
]


@pytest.mark.parametrize("make_layer", FOUR_D_LAYERS)
@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 1, 3, 8, 8)])
def test_wrong_number_of_dimensions_names_shape(make_layer, shape):
    layer = make_layer()
    with pytest.raises(ValueError, match=r"4-D input, got shape " + re_shape(shape)):
        layer.forward(image(*shape))


def test_three_d_image_error_suggests_batch_axis():
    with pytest.raises(ValueError, match=r"x\[None\]"):
        Conv2d(3, 2, 3).forward(image(3, 8, 8))


def test_linear_rejects_four_d_input():
    with pytest.raises(ValueError, match=r"2-D input, got shape \(2, 3, 1, 1\)"):
        Linear(3, 2).forward(image(2, 3, 1, 1))


@pytest.mark.parametrize("make_layer, shape, expected, received", [
    (lambda: Conv2d(3, 2, 3), (1, 4, 8, 8), "3 input channels", "got 4"),
    (lambda: BatchNorm2d(3), (2, 5, 4, 4), "3 channels", "got 5"),
    (lambda: Linear(6, 2), (2, 7), "6 input features", "got 7"),
])
def test_channel_mismatch_names_both_counts(make_layer, shape, expected, received):
    with pytest.raises(ValueError) as error:
        make_layer().forward(image(*shape))
    assert expected in str(error.value)
    assert received in str(error.value)


@pytest.mark.parametrize("make_layer", [
    lambda: Conv2d(1, 1, (5, 3), padding=1),
    lambda: MaxPool2d((5, 3), padding=1),
    lambda: AvgPool2d((5, 3), padding=1),
])
def test_kernel_larger_than_padded_input_names_sizes(make_layer):
    # Height 2 + 2 * 1 = 4 padded rows cannot hold a 5-row kernel.
    with pytest.raises(ValueError, match=r"kernel 5x3 is larger than the padded "
                                         r"input 4x6 \(input 2x4\)"):
        make_layer().forward(image(1, 1, 2, 4))


@pytest.mark.parametrize("make_layer", FOUR_D_LAYERS + [lambda: Dropout(0.5)])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.float16, bool])
def test_non_float_input_names_dtype(make_layer, dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        make_layer().forward(np.ones((2, 3, 4, 4), dtype=dtype))


@pytest.mark.parametrize("make_layer", [
    lambda: Conv2d(3, 2, 3, dtype=np.float64),
    lambda: BatchNorm2d(3, dtype=np.float64),
])
def test_float32_input_to_float64_layer_names_both(make_layer):
    with pytest.raises(TypeError, match="float64 parameters but got float32 input"):
        make_layer().forward(image(2, 3, 4, 4, dtype=np.float32))


def test_float32_input_to_float64_linear_names_both():
    with pytest.raises(TypeError, match="float64 parameters but got float32 input"):
        Linear(3, 2, dtype=np.float64).forward(image(2, 3))


@pytest.mark.parametrize("make_layer", FOUR_D_LAYERS)
def test_list_input_is_rejected_with_type_name(make_layer):
    with pytest.raises(TypeError, match="numpy.ndarray, got list"):
        make_layer().forward(image(1, 3, 4, 4).tolist())


ALL_LAYERS = FOUR_D_LAYERS + [
    lambda: Linear(3, 2),
    lambda: Flatten(),
    lambda: ReLU(),
    lambda: LeakyReLU(),
    lambda: Sigmoid(),
    lambda: Tanh(),
    lambda: Dropout(0.5),
]


@pytest.mark.parametrize("make_layer", ALL_LAYERS)
def test_backward_before_forward_raises(make_layer):
    layer = make_layer()
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}.backward was "
                                           "called before forward"):
        layer.backward(np.ones((2, 3), dtype=np.float32))


@pytest.mark.parametrize("make_layer, x", [
    (lambda: Conv2d(3, 2, 3, padding=1), image(2, 3, 4, 4)),
    (lambda: MaxPool2d(2), image(2, 3, 4, 4)),
    (lambda: AvgPool2d(2), image(2, 3, 4, 4)),
    (lambda: BatchNorm2d(3), np.random.default_rng(0).random((2, 3, 4, 4),
                                                            dtype=np.float32)),
    (lambda: Linear(3, 2), image(2, 3)),
    (lambda: ReLU(), image(2, 3)),
])
def test_second_backward_without_forward_raises(make_layer, x):
    layer = make_layer()
    out = layer.forward(x)
    layer.backward(np.ones_like(out))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones_like(out))


@pytest.mark.parametrize("make_layer, x", [
    (lambda: Conv2d(3, 2, 3, padding=1), image(2, 3, 4, 4)),
    (lambda: MaxPool2d(2), image(2, 3, 4, 4)),
    (lambda: AvgPool2d(2), image(2, 3, 4, 4)),
    (lambda: GlobalAvgPool2d(), image(2, 3, 4, 4)),
    (lambda: BatchNorm2d(3), np.random.default_rng(0).random((2, 3, 4, 4),
                                                            dtype=np.float32)),
    (lambda: Linear(3, 2), image(2, 3)),
    (lambda: Flatten(), image(2, 3, 4, 4)),
    (lambda: ReLU(), image(2, 3)),
    (lambda: LeakyReLU(), image(2, 3)),
    (lambda: Sigmoid(), image(2, 3)),
    (lambda: Tanh(), image(2, 3)),
    (lambda: Dropout(0.5), image(2, 3)),
])
def test_wrong_dout_shape_names_expected_shape(make_layer, x):
    layer = make_layer()
    out = layer.forward(x)
    # A last axis of 1 would broadcast silently in an element-wise product.
    last = 1 if out.shape[-1] != 1 else 2
    wrong = np.ones(out.shape[:-1] + (last,), dtype=out.dtype)
    with pytest.raises(ValueError, match=re_shape(out.shape)):
        layer.backward(wrong)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"in_channels": 0}, "in_channels must be a positive int, got 0"),
    ({"out_channels": -2}, "out_channels must be a positive int, got -2"),
    ({"kernel_size": 0}, "kernel_size=0"),
    ({"stride": (1, 0)}, r"stride=\(1, 0\)"),
    ({"padding": -1}, "padding must be non-negative, got -1"),
    ({"padding": "full"}, "got 'full'"),
    ({"padding": "same", "stride": 2}, r"needs stride 1, got stride=\(2, 2\)"),
])
def test_conv_constructor_rejects_bad_values(kwargs, fragment):
    arguments = {"in_channels": 3, "out_channels": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        Conv2d(**arguments)


@pytest.mark.parametrize("kernel_size", [2.5, (3,), (1, 2, 3), "3"])
def test_conv_constructor_rejects_non_int_kernel(kernel_size):
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2d(3, 2, kernel_size)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
def test_pool_rejects_padding_over_half_kernel(cls):
    with pytest.raises(ValueError, match=r"padding=2 for kernel_size=3"):
        cls(3, padding=2)


def test_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        Linear(0, 3)


def test_batchnorm_rejects_bad_channel_count():
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        BatchNorm2d(0)


def re_shape(shape):
    """Return a regex matching ``shape`` as Python prints it."""
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("kernel_size", [True, (3, False)])
def test_bool_kernel_size_is_rejected(kernel_size):
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2d(3, 2, kernel_size)


def test_flatten_names_bad_input():
    with pytest.raises(TypeError, match="numpy.ndarray, got list"):
        Flatten().forward([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"batch axis, got shape \(3,\)"):
        Flatten().forward(np.ones(3))


@pytest.mark.parametrize("make", [
    lambda: Conv2d(True, 2, 3),
    lambda: Linear(3, True),
    lambda: BatchNorm2d(True),
])
def test_bool_channel_count_is_rejected(make):
    with pytest.raises(ValueError, match="must be a positive int, got True"):
        make()
