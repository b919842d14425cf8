"""Conv2d: gradients, PyTorch agreement, chunking, linearity and the course example."""

import contextlib

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import Geometry, conv_geometries, normal_array, seeds

from nnscratch import runtime
from nnscratch.layers import Conv2d, conv_direct
from nnscratch.layers.conv import conv_tiles

# The two ways a stride-1 layer can run: im2col + GEMM, or the direct kernels
# (which the library picks for inputs with few channels).
CONV_PATHS = ["im2col", "direct"]


@contextlib.contextmanager
def conv_path(path):
    """Send every layer that the direct kernels can run to ``path``, whatever
    its channels and size."""
    with pytest.MonkeyPatch.context() as patch:
        if path == "im2col":
            patch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", 0)
        else:
            patch.setattr(conv_direct, "DIRECT_MAX_CHANNELS", 10**6)
            patch.setattr(conv_direct, "MIN_OUTPUT_WIDTH", 1)
        yield


def make_conv(geometry, padding=None, bias=True, seed=0):
    """Return a float64 Conv2d for ``geometry`` with weights drawn from ``seed``."""
    g = geometry
    conv = Conv2d(g.C, g.F, g.kernel_size, stride=g.stride,
                  padding=g.padding if padding is None else padding, bias=bias,
                  dtype=np.float64, rng=np.random.default_rng(seed))
    return conv


@given(geometry=conv_geometries(), bias=st.booleans(), seed=seeds)
# 1x1 output: (3 + 0 - 3) // 2 + 1 = 1 per side.
@example(geometry=Geometry(N=1, C=1, H=3, W=3, KH=3, KW=3, SH=2, SW=2, PH=0, PW=0,
                           F=1), bias=True, seed=0)
# (5 + 2 - 2) = 5 is not a multiple of stride 3, and the kernel is 2x3.
@example(geometry=Geometry(N=2, C=2, H=5, W=6, KH=2, KW=3, SH=3, SW=2, PH=1, PW=0,
                           F=3), bias=True, seed=1)
@pytest.mark.parametrize("path", CONV_PATHS)
def test_conv_gradients_match_central_differences(path, geometry, bias, seed):
    conv = make_conv(geometry, bias=bias, seed=seed)
    x = normal_array(seed, geometry.input_shape)
    with conv_path(path):
        errors = check_layer_gradients(conv, x, seed=seed)
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())


@given(geometry=conv_geometries(max_stride=1, max_padding=0), seed=seeds,
       padding=st.sampled_from(["same", "valid", 1, (0, 2)]))
@pytest.mark.parametrize("path", CONV_PATHS)
def test_conv_gradients_for_each_padding_form(path, geometry, seed, padding):
    conv = make_conv(geometry, padding=padding, seed=seed)
    x = normal_array(seed, geometry.input_shape)
    with conv_path(path):
        check_layer_gradients(conv, x, seed=seed)


@given(geometry=conv_geometries(), seed=seeds)
def test_conv_output_shape_follows_size_formula(geometry, seed):
    conv = make_conv(geometry, seed=seed)
    out = conv.forward(normal_array(seed, geometry.input_shape))
    g = geometry
    expected_h = (g.H + 2 * g.PH - g.KH) // g.SH + 1
    expected_w = (g.W + 2 * g.PW - g.KW) // g.SW + 1
    assert out.shape == (g.N, g.F, expected_h, expected_w)
    assert conv.output_shape(g.input_shape) == out.shape


@given(geometry=conv_geometries(max_stride=1, max_padding=0), seed=seeds)
def test_same_padding_keeps_height_and_width(geometry, seed):
    conv = make_conv(geometry, padding="same", seed=seed)
    out = conv.forward(normal_array(seed, geometry.input_shape))
    assert out.shape == (geometry.N, geometry.F, geometry.H, geometry.W)


@given(geometry=conv_geometries(), seed=seeds,
       scale=st.floats(-3, 3, allow_nan=False))
def test_bias_free_conv_is_linear(geometry, seed, scale):
    conv = make_conv(geometry, bias=False, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(geometry.input_shape)
    y = rng.standard_normal(geometry.input_shape)
    combined = conv.forward(scale * x + y)
    separate = scale * conv.forward(x) + conv.forward(y)
    np.testing.assert_allclose(combined, separate, rtol=1e-12, atol=1e-12)


@given(geometry=conv_geometries(min_batch=2, max_batch=4), seed=seeds)
def test_chunked_conv_equals_unchunked(geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    dout_seed = seed + 1
    results = []
    for max_cols_bytes in (None, 1):
        conv = make_conv(geometry, seed=seed)
        if max_cols_bytes is not None:
            # A 1-byte budget gives the smallest tiles: one output row of one sample.
            conv.max_cols_bytes = max_cols_bytes
        out = conv.forward(x)
        dx = conv.backward(normal_array(dout_seed, out.shape))
        results.append((out, dx, conv.grads["weight"], conv.grads["bias"]))
    for whole, chunked in zip(*results):
        # Chunks sum dW in a different order, so equality is to rounding.
        np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-13)


@given(N=st.integers(1, 5), OH=st.integers(1, 9), OW=st.integers(1, 9),
       column_bytes=st.integers(1, 64), max_cols_bytes=st.integers(1, 4096),
       start=st.integers(0, 3))
def test_conv_tiles_cover_rows_once(N, OH, OW, column_bytes, max_cols_bytes,
                                    start):
    tiles = conv_tiles(N, OH, OW, column_bytes, max_cols_bytes, start=start)
    covered = [(n, r) for n0, n1, r0, r1 in tiles
               for n in range(n0, n1) for r in range(r0, r1)]
    assert covered == [(n, r) for n in range(start, start + N) for r in range(OH)]
    for n0, n1, r0, r1 in tiles:
        # Several samples share a tile only when each is whole.
        assert n1 - n0 == 1 or (r0, r1) == (0, OH)
        if (n1 - n0) * (r1 - r0) > 1:
            assert (n1 - n0) * (r1 - r0) * OW * column_bytes <= max_cols_bytes


@contextlib.contextmanager
def batch_split(threads):
    """Split every batch over up to ``threads`` threads, however small the
    layer, and yield the list of range counts passed to ``map_batch``."""
    if runtime._openblas_thread_functions() is None:
        pytest.skip("numpy's BLAS is not its bundled OpenBLAS, so batches stay whole")
    calls = []
    map_batch = runtime.map_batch

    def counting_map_batch(function, ranges):
        calls.append(len(ranges))
        return map_batch(function, ranges)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "MIN_SPLIT_WORK", 0)
        patch.setattr(runtime, "map_batch", counting_map_batch)
        previous = runtime.set_batch_threads(threads)
        try:
            yield calls
        finally:
            runtime.set_batch_threads(previous)


def conv_results(geometry, seed, input_grad=True, max_cols_bytes=None):
    """Return output, input gradient and parameter gradients of one conv step."""
    conv = make_conv(geometry, seed=seed)
    if max_cols_bytes is not None:
        conv.max_cols_bytes = max_cols_bytes
    out = conv.forward(normal_array(seed, geometry.input_shape))
    dx = conv.backward(normal_array(seed + 1, out.shape), input_grad=input_grad)
    return out, dx, conv.grads["weight"], conv.grads["bias"]


@given(geometry=conv_geometries(min_batch=2, max_batch=5), seed=seeds,
       max_cols_bytes=st.sampled_from([None, 1]), input_grad=st.booleans())
@pytest.mark.parametrize("path", CONV_PATHS)
def test_batch_split_equals_one_thread(path, geometry, seed, max_cols_bytes,
                                       input_grad):
    with conv_path(path):
        single = conv_results(geometry, seed, input_grad, max_cols_bytes)
        with batch_split(3) as range_counts:
            split = conv_results(geometry, seed, input_grad, max_cols_bytes)
    # Forward and backward each split, unless the kernel covers the input.
    assert range_counts in ([min(3, geometry.N)] * 2, []), range_counts
    for name, ours, serial in zip(("out", "dx", "weight", "bias"), split, single):
        if serial is None:
            assert ours is None
            continue
        # Each thread sums its own samples' weight gradient, and the rest is
        # the same arithmetic on the same tiles.
        np.testing.assert_allclose(ours, serial, rtol=1e-12, atol=1e-13, err_msg=name)


@given(geometry=conv_geometries(), seed=seeds)
def test_eval_mode_backward_equals_train_mode(geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    grads = []
    for training in (True, False):
        conv = make_conv(geometry, seed=seed).train(training)
        out = conv.forward(x)
        dx = conv.backward(normal_array(seed + 1, out.shape))
        grads.append((dx, conv.grads["weight"]))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12, atol=1e-13)


def test_empty_batch_gives_empty_output_and_zero_weight_gradient():
    conv = make_conv(Geometry(N=0, C=2, H=5, W=5, KH=3, KW=3, SH=1, SW=1, PH=1,
                              PW=1, F=4))
    out = conv.forward(np.zeros((0, 2, 5, 5)))
    assert out.shape == (0, 4, 5, 5)
    dx = conv.backward(np.zeros((0, 4, 5, 5)))
    assert dx.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(conv.grads["weight"], np.zeros((4, 2, 3, 3)))
    np.testing.assert_array_equal(conv.grads["bias"], np.zeros(4))


def test_vertical_edge_kernel_on_half_bright_image():
    # The course's example: a 6x6 image, left half 10 and right half 0, under
    # the vertical edge kernel [[1, 0, -1]] * 3.
    image = np.zeros((1, 1, 6, 6), dtype=np.float32)
    image[..., :3] = 10
    conv = Conv2d(1, 1, 3, bias=False)
    conv.params["weight"][...] = np.array([[1, 0, -1]] * 3, dtype=np.float32)

    response = conv.forward(image)[0, 0]
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[:, 1:3] = 30
    np.testing.assert_array_equal(response, expected)


def test_conv_is_cross_correlation_without_flip():
    # A one-hot kernel at (0, 1) copies the pixel one column right of each
    # window's top-left corner; a flipped kernel would pick (2, 1) instead.
    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    conv = Conv2d(1, 1, 3, bias=False, dtype=np.float64)
    conv.params["weight"][...] = 0
    conv.params["weight"][0, 0, 0, 1] = 1
    np.testing.assert_array_equal(conv.forward(x)[0, 0], x[0, 0, :3, 1:4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_keeps_dtype(dtype):
    conv = Conv2d(2, 3, 3, padding=1, dtype=dtype)
    x = np.ones((2, 2, 4, 4), dtype=dtype)
    out = conv.forward(x)
    dx = conv.backward(np.ones_like(out))
    assert out.dtype == dtype
    assert dx.dtype == dtype
    assert conv.grads["weight"].dtype == dtype
    assert conv.grads["bias"].dtype == dtype


@given(geometry=conv_geometries(), bias=st.booleans(), seed=seeds)
@pytest.mark.parametrize("path", CONV_PATHS)
def test_conv_matches_torch(torch, path, geometry, seed, bias):
    conv = make_conv(geometry, bias=bias, seed=seed)
    x = normal_array(seed, geometry.input_shape)
    dout = normal_array(seed + 1, conv.output_shape(x.shape))
    with conv_path(path):
        out = conv.forward(x)
        dx = conv.backward(dout)

    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(conv.params["weight"], requires_grad=True)
    bias_t = torch.tensor(conv.params["bias"], requires_grad=True) if bias else None
    out_t = torch.nn.functional.conv2d(x_t, weight_t, bias_t, stride=geometry.stride,
                                       padding=geometry.padding)
    out_t.backward(torch.tensor(dout))

    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.grads["weight"], weight_t.grad.numpy(),
                               rtol=1e-10, atol=1e-12)
    if bias:
        np.testing.assert_allclose(conv.grads["bias"], bias_t.grad.numpy(),
                                   rtol=1e-10, atol=1e-12)


# PyTorch warns that an even kernel with padding="same" copies the input.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@given(geometry=conv_geometries(max_stride=1, max_padding=0), seed=seeds)
@pytest.mark.parametrize("path", CONV_PATHS)
def test_same_padding_matches_torch(torch, path, geometry, seed):
    # Even kernels pad one more row and column after the input than before.
    conv = make_conv(geometry, padding="same", seed=seed)
    x = normal_array(seed, geometry.input_shape)
    with conv_path(path):
        out = conv.forward(x)
        dx = conv.backward(np.ones_like(out))

    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(conv.params["weight"])
    bias_t = torch.tensor(conv.params["bias"])
    out_t = torch.nn.functional.conv2d(x_t, weight_t, bias_t, padding="same")
    out_t.sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)
