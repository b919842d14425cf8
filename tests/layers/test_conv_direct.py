"""The direct convolution path: which layers take it, how it stacks samples,
and that it gives what im2col + GEMM gives."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.layers import Conv2d, conv, conv_direct
from nnscratch.layers.conv_direct import direct_applies, stacked_length


@st.composite
def direct_cases(draw):
    """Draw a stride-1 layer the direct path accepts, padding per side < kernel."""
    KH, KW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = tuple(draw(st.integers(0, k - 1)) for k in (KH, KH, KW, KW))
    H = max(1, KH - pads[0] - pads[1]) + draw(st.integers(0, 5))
    W = max(1, KW - pads[2] - pads[3]) + draw(st.integers(0, 5))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 4)), H, W)
    return shape, draw(st.integers(1, 9)), (KH, KW), pads


def layer_step(shape, F, kernel_size, pads, seed, input_grad, limit):
    """Run forward and backward with ``DIRECT_MAX_CHANNELS = limit``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", limit)
        weight = normal_array(seed, (F, shape[1], *kernel_size))
        bias = normal_array(seed + 1, (F,))
        x = normal_array(seed + 2, shape)
        out, cache = conv.conv2d_forward(x, weight, bias, (1, 1), pads)
        dout = normal_array(seed + 3, out.shape)
        return (out, *conv.conv2d_backward(dout, cache, input_grad))


@given(case=direct_cases(), seed=seeds, input_grad=st.booleans(),
       stack_bytes=st.sampled_from([1, 3000, conv_direct.STACK_BYTES]))
def test_direct_path_equals_im2col(case, seed, input_grad, stack_bytes):
    # stack_bytes 1 makes one sample per stack, 3000 a few (often with a
    # shorter last stack), the default the whole batch.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_direct, "STACK_BYTES", stack_bytes)
        direct = layer_step(*case, seed, input_grad, limit=4)
    im2col = layer_step(*case, seed, input_grad, limit=0)
    for name, ours, theirs in zip(("out", "dx", "dW", "db"), direct, im2col):
        if theirs is None:
            assert ours is None
            continue
        assert ours.shape == theirs.shape
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("channels, stride, pads, expected", [
    (3, (1, 1), (2, 2, 2, 2), True),    # the course's first layer, 5x5
    (4, (1, 1), (0, 0, 0, 0), True),
    (5, (1, 1), (2, 2, 2, 2), False),   # enough channels for the GEMM
    (3, (2, 2), (2, 2, 2, 2), False),   # strided
    (3, (1, 2), (2, 2, 2, 2), False),
    (3, (1, 1), (5, 0, 0, 0), False),   # padding as tall as the kernel
    (3, (1, 1), (0, 0, 0, 5), False),
])
def test_direct_applies_to_thin_stride_one_layers(channels, stride, pads, expected):
    assert direct_applies(channels, (5, 5), stride, pads) is expected


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
        out = layer.forward(np.ones((2, channels, 12, 12), np.float32))
        layer.backward(np.ones_like(out))
        assert len(calls) == expected, layer
