"""The direct convolution path: which layers take it, how it stacks samples,
and that it gives what im2col + GEMM gives."""

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.layers import Conv2d, conv, conv_direct
from nnscratch.layers.conv_direct import direct_applies, stacked_length


@contextlib.contextmanager
def path(name, stack_bytes=conv_direct.STACK_BYTES, kernels="numba"):
    """Run stride-1 layers of any size on ``name``: "direct" or "im2col".

    Yields the list of sample ranges that the direct forward pass ran.
    """
    calls = []
    forward = conv.direct_forward_samples

    def counting_forward(*args):
        calls.append(args[3:5])
        return forward(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_direct, "MIN_OUTPUT_WIDTH", 1)
        patch.setattr(conv_direct, "STACK_BYTES", stack_bytes)
        patch.setattr(conv, "direct_forward_samples", counting_forward)
        patch.setenv("NNSCRATCH_KERNELS", kernels)
        if name == "im2col":
            patch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", 0)
        yield calls


@st.composite
def direct_cases(draw):
    """Draw a stride-1 layer the direct path accepts, padding per side < kernel."""
    KH, KW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = tuple(draw(st.integers(0, k - 1)) for k in (KH, KH, KW, KW))
    H = max(1, KH - pads[0] - pads[1]) + draw(st.integers(0, 5))
    W = max(1, KW - pads[2] - pads[3]) + draw(st.integers(0, 5))
    shape = (draw(st.integers(0, 6)), draw(st.integers(1, 4)), H, W)
    return shape, draw(st.integers(1, 9)), (KH, KW), pads


def layer_step(shape, F, kernel_size, pads, seed, input_grad, dtype):
    """Return out, dx, dW and db of one forward and backward pass."""
    weight = normal_array(seed, (F, shape[1], *kernel_size), dtype)
    bias = normal_array(seed + 1, (F,), dtype)
    x = normal_array(seed + 2, shape, dtype)
    out, cache = conv.conv2d_forward(x, weight, bias, (1, 1), pads)
    dout = normal_array(seed + 3, out.shape, dtype)
    return (out, *conv.conv2d_backward(dout, cache, input_grad))


@given(case=direct_cases(), seed=seeds, input_grad=st.booleans(),
       stack_bytes=st.sampled_from([1, 3000, conv_direct.STACK_BYTES]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_direct_path_equals_im2col(case, seed, input_grad, stack_bytes, dtype):
    # stack_bytes 1 makes one sample per stack, 3000 a few (often with a
    # shorter last stack), the default the whole batch.
    with path("direct", stack_bytes) as direct_calls:
        direct = layer_step(*case, seed, input_grad, dtype)
    with path("im2col") as im2col_calls:
        im2col = layer_step(*case, seed, input_grad, dtype)
    shape, _, kernel_size, pads = case
    # A kernel that spans the whole unpadded input runs as a fully connected
    # product on both paths. Every other case here takes the direct path.
    covers_input = shape[2:] == kernel_size and not any(pads)
    assert bool(direct_calls) == (not covers_input)
    assert not im2col_calls
    tolerance = 1e-11 if dtype == np.float64 else 2e-4
    for name, ours, theirs in zip(("out", "dx", "dW", "db"), direct, im2col):
        if theirs is None:
            assert ours is None
            continue
        assert ours.shape == theirs.shape
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance,
                                   err_msg=name)


@given(case=direct_cases(), seed=seeds)
def test_direct_path_numpy_twins_match_numba(case, seed):
    results = []
    for kernels in ("numba", "numpy"):
        with path("direct", kernels=kernels):
            results.append(layer_step(*case, seed, True, np.float64))
    for name, ours, theirs in zip(("out", "dx", "dW", "db"), *results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_bad_pixel_gradients_match_im2col(bad):
    # A pixel in the last column: the flat rows read it from outputs that
    # wrap around, which must not spread it to other taps.
    shape, F, kernel_size, pads = (2, 3, 6, 7), 4, (3, 3), (0, 0, 0, 0)
    results = []
    for name in ("direct", "im2col"):
        x = normal_array(0, shape)
        x[1, 2, 3, 6] = bad
        weight = normal_array(1, (F, shape[1], *kernel_size))
        with path(name):
            out, cache = conv.conv2d_forward(x, weight, None, (1, 1), pads)
            results.append((out, *conv.conv2d_backward(normal_array(2, out.shape),
                                                       cache)))
    for label, ours, theirs in zip(("out", "dx", "dW"), *results):
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs),
                                      err_msg=label)
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-12,
                                   err_msg=label)


def test_mixed_dtypes_keep_precision():
    # float64 input, float32 weight: the gradients must stay float64.
    x = normal_array(0, (2, 3, 40, 40))
    weight = normal_array(1, (4, 3, 3, 3), np.float32)
    results = []
    for name in ("direct", "im2col"):
        with path(name):
            out, cache = conv.conv2d_forward(x, weight, None, (1, 1), (1, 1, 1, 1))
            results.append((out, *conv.conv2d_backward(normal_array(2, out.shape),
                                                       cache)))
    for label, ours, theirs in zip(("out", "dx", "dW"), *results):
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12,
                                   err_msg=label)


def applies(C=3, F=16, size=64, kernel=5, stride=(1, 1), pads=(2, 2, 2, 2),
            itemsize=4):
    return direct_applies((32, C, size, size), (F, C, kernel, kernel), stride, pads,
                          itemsize)


@pytest.mark.parametrize("arguments, expected", [
    ({}, True),                                  # RGB, 5x5, 64 x 64
    ({"C": 4, "pads": (0, 0, 0, 0)}, True),
    ({"C": 5}, False),                           # enough channels for the GEMM
    ({"stride": (2, 2)}, False),
    ({"stride": (1, 2)}, False),
    ({"pads": (5, 0, 0, 0)}, False),             # padding as tall as the kernel
    ({"pads": (0, 0, 0, 5)}, False),
    ({"size": 32}, True),                        # output 32 + 4 - 5 + 1 = 32 wide
    ({"size": 31}, False),                       # output 31 wide: too narrow
    ({"size": 1000, "F": 4}, True),              # 4 x 1010 x 1010 x 4 B < 16 MiB
    ({"size": 1000}, False),                     # 16 filters: over 16 MiB
    # One filter, but the input gradient keeps C + 1 = 5 channels.
    ({"size": 1000, "F": 1, "C": 4, "pads": (1, 1, 1, 1)}, False),
    ({"size": 1000, "F": 1, "C": 3, "pads": (1, 1, 1, 1)}, True),
])
def test_direct_applies_to_thin_wide_layers(arguments, expected):
    assert applies(**arguments) is expected


@given(samples=st.integers(1, 5), KH=st.integers(1, 4), KW=st.integers(1, 4),
       extra_rows=st.integers(0, 4), extra_cols=st.integers(0, 4))
def test_stacked_length_ends_on_last_pixel(samples, KH, KW, extra_rows,
                                           extra_cols):
    rows, width = KH + extra_rows, KW + extra_cols
    length = stacked_length(samples, rows, rows - KH + 1, width, width - KW + 1)
    # The last position's window ends on the stack's last pixel.
    assert length - 1 + (KH - 1) * width + KW - 1 == samples * rows * width - 1
    # It is the last output pixel of the last sample.
    row, col = divmod(length - 1, width)
    assert row == (samples - 1) * rows + rows - KH
    assert col == width - KW


def test_conv_routing_rgb_and_strided(monkeypatch):
    calls = []
    for name in ("direct_forward_samples", "direct_backward_samples"):
        original = getattr(conv, name)
        monkeypatch.setattr(conv, name, lambda *args, original=original, name=name:
                            calls.append(name) or original(*args))
    layers = [Conv2d(3, 8, 5, padding=2), Conv2d(1, 4, 3, stride=2)]
    for layer, channels, expected in zip(layers, (3, 1), (2, 0)):
        calls.clear()
        out = layer.forward(np.ones((2, channels, 40, 40), np.float32))
        layer.backward(np.ones_like(out))
        assert len(calls) == expected, layer
