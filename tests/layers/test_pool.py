"""MaxPool2d, AvgPool2d and GlobalAvgPool2d: gradients, tie rule, PyTorch agreement."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    Geometry,
    distinct_arrays,
    normal_array,
    pool_geometries,
    seeds,
    tied_arrays,
)

from nnscratch.layers import AvgPool2d, GlobalAvgPool2d, MaxPool2d


def make_pool(cls, geometry):
    return cls(geometry.kernel_size, stride=geometry.stride, padding=geometry.padding)


def maxpool_loops(x, geometry):
    """Loop reference: output and gradient routing of max pooling.

    Tie rule as documented on MaxPool2d: scan each window row by row, left to
    right, over real pixels only; a later value replaces the winner only when
    it is strictly greater.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    winners : ndarray of shape (N, C, OH, OW, 2), the (h, w) of each winner
    """
    g = geometry
    out = np.empty((g.N, g.C, g.OH, g.OW))
    winners = np.empty((g.N, g.C, g.OH, g.OW, 2), dtype=np.int64)
    for n in range(g.N):
        for c in range(g.C):
            for oh in range(g.OH):
                for ow in range(g.OW):
                    best = None
                    for i in range(g.KH):
                        for j in range(g.KW):
                            h = oh * g.SH - g.PH + i
                            w = ow * g.SW - g.PW + j
                            if not (0 <= h < g.H and 0 <= w < g.W):
                                continue
                            if best is None or x[n, c, h, w] > x[n, c, *best]:
                                best = (h, w)
                    out[n, c, oh, ow] = x[n, c, *best]
                    winners[n, c, oh, ow] = best
    return out, winners


def route_gradient(dout, winners, geometry):
    """Add each window's upstream gradient to its winner (loop reference)."""
    dx = np.zeros(geometry.input_shape)
    for index in np.ndindex(dout.shape):
        h, w = winners[index]
        dx[index[0], index[1], h, w] += dout[index]
    return dx


@st.composite
def pools_with_distinct_values(draw):
    geometry = draw(pool_geometries())
    return geometry, draw(distinct_arrays(geometry.input_shape))


@st.composite
def pools_with_ties(draw):
    geometry = draw(pool_geometries())
    return geometry, draw(tied_arrays(geometry.input_shape))


@given(case=pools_with_distinct_values(), seed=seeds)
# Overlapping windows (stride 1 < kernel 3) with padding 1.
@example(case=(Geometry(N=1, C=1, H=4, W=4, KH=3, KW=3, SH=1, SW=1, PH=1, PW=1),
               np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)[..., ::-1] * 0.1),
         seed=0)
def test_maxpool_gradients_match_central_differences(case, seed):
    geometry, x = case
    check_layer_gradients(make_pool(MaxPool2d, geometry), x, seed=seed)


@given(case=pools_with_ties(), seed=seeds)
def test_maxpool_tie_rule_matches_loop_reference(case, seed):
    geometry, x = case
    pool = make_pool(MaxPool2d, geometry)
    out = pool.forward(x)
    dout = normal_array(seed, out.shape)
    dx = pool.backward(dout)

    expected_out, winners = maxpool_loops(x, geometry)
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_allclose(dx, route_gradient(dout, winners, geometry),
                               rtol=1e-15, atol=0)


def test_maxpool_tie_goes_to_first_maximum_in_row_major_order():
    x = np.array([[0, 5, 5],
                  [5, 0, 5],
                  [5, 5, 5]], dtype=np.float64).reshape(1, 1, 3, 3)
    pool = MaxPool2d(3)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 0, 1] = 1
    np.testing.assert_array_equal(dx, expected)


def test_maxpool_shared_winner_of_overlapping_windows_gets_their_sum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1  # the maximum of all four 2x2 windows at stride 1
    pool = MaxPool2d(2, stride=1)
    pool.forward(x)
    dout = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dx = pool.backward(dout)
    assert dx[0, 0, 1, 1] == 10.0
    assert np.count_nonzero(dx) == 1


@given(geometry=pool_geometries(max_stride=1), seed=seeds)
def test_maxpool_window_gradient_sums_to_upstream(geometry, seed):
    # Stride equal to the kernel: windows do not overlap, so the gradient in a
    # window's footprint is that window's upstream gradient alone.
    g = Geometry(N=geometry.N, C=geometry.C, H=geometry.H, W=geometry.W,
                 KH=geometry.KH, KW=geometry.KW, SH=geometry.KH, SW=geometry.KW,
                 PH=geometry.PH, PW=geometry.PW)
    if g.OH < 1 or g.OW < 1:
        return
    x = normal_array(seed, g.input_shape)
    pool = make_pool(MaxPool2d, g)
    out = pool.forward(x)
    dout = normal_array(seed + 1, out.shape)
    dx = pool.backward(dout)
    for oh in range(g.OH):
        for ow in range(g.OW):
            top, left = oh * g.SH - g.PH, ow * g.SW - g.PW
            window = dx[:, :, max(top, 0) : top + g.KH, max(left, 0) : left + g.KW]
            np.testing.assert_allclose(window.sum(axis=(2, 3)), dout[:, :, oh, ow],
                                       rtol=1e-15, atol=0)


def test_maxpool_course_example():
    x = np.array([[1, 1, 2, 4],
                  [5, 6, 7, 8],
                  [3, 2, 1, 0],
                  [1, 2, 3, 4]], dtype=np.float32).reshape(1, 1, 4, 4)
    out = MaxPool2d(2, stride=2).forward(x)
    np.testing.assert_array_equal(out[0, 0], np.array([[6, 8], [3, 4]], np.float32))


@given(geometry=pool_geometries(), seed=seeds)
def test_pool_output_shape_follows_size_formula(geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    for cls in (MaxPool2d, AvgPool2d):
        pool = make_pool(cls, geometry)
        out = pool.forward(x)
        assert out.shape == (geometry.N, geometry.C, geometry.OH, geometry.OW)
        assert pool.output_shape(x.shape) == out.shape


def test_maxpool_stride_defaults_to_kernel_size():
    assert MaxPool2d(3).stride == (3, 3)
    assert AvgPool2d((2, 3)).stride == (2, 3)


@given(geometry=pool_geometries(), seed=seeds)
def test_avgpool_gradients_match_central_differences(geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    check_layer_gradients(make_pool(AvgPool2d, geometry), x, seed=seed)


@given(geometry=pool_geometries(), seed=seeds)
def test_avgpool_equals_mean_of_zero_padded_windows(geometry, seed):
    g = geometry
    x = normal_array(seed, g.input_shape)
    padded = np.pad(x, ((0, 0), (0, 0), (g.PH, g.PH), (g.PW, g.PW)))
    expected = np.empty((g.N, g.C, g.OH, g.OW))
    for oh in range(g.OH):
        for ow in range(g.OW):
            window = padded[:, :, oh * g.SH : oh * g.SH + g.KH,
                            ow * g.SW : ow * g.SW + g.KW]
            expected[:, :, oh, ow] = window.mean(axis=(2, 3))
    out = make_pool(AvgPool2d, g).forward(x)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


@given(geometry=pool_geometries(), seed=seeds)
def test_global_avgpool_gradients_match_central_differences(geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    pool = GlobalAvgPool2d()
    out = pool.forward(x)
    np.testing.assert_allclose(out[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-12)
    check_layer_gradients(pool, x, seed=seed)


@pytest.mark.parametrize("cls", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_keeps_dtype(cls, dtype):
    pool = cls(2)
    x = np.arange(32, dtype=dtype).reshape(1, 2, 4, 4)
    out = pool.forward(x)
    assert out.dtype == dtype
    assert pool.backward(np.ones_like(out)).dtype == dtype


def torch_pool(torch, cls, geometry, x, dout):
    """Return out and dx of the PyTorch counterpart of ``cls``."""
    x_t = torch.tensor(x, requires_grad=True)
    functional = (torch.nn.functional.max_pool2d if cls is MaxPool2d
                  else torch.nn.functional.avg_pool2d)
    out_t = functional(x_t, geometry.kernel_size, stride=geometry.stride,
                       padding=geometry.padding)
    out_t.backward(torch.tensor(dout))
    return out_t.detach().numpy(), x_t.grad.numpy()


@given(case=pools_with_distinct_values(), seed=seeds)
def test_maxpool_matches_torch(torch, case, seed):
    geometry, x = case
    pool = make_pool(MaxPool2d, geometry)
    out = pool.forward(x)
    dout = normal_array(seed, out.shape)
    dx = pool.backward(dout)
    out_t, dx_t = torch_pool(torch, MaxPool2d, geometry, x, dout)
    np.testing.assert_array_equal(out, out_t)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-15, atol=0)


@given(case=pools_with_ties(), seed=seeds)
def test_maxpool_ties_match_torch(torch, case, seed):
    geometry, x = case
    pool = make_pool(MaxPool2d, geometry)
    out = pool.forward(x)
    dout = normal_array(seed, out.shape)
    dx = pool.backward(dout)
    out_t, dx_t = torch_pool(torch, MaxPool2d, geometry, x, dout)
    np.testing.assert_array_equal(out, out_t)
    # Shared winners of overlapping windows sum in a different order.
    np.testing.assert_allclose(dx, dx_t, rtol=1e-14, atol=1e-15)


@given(geometry=pool_geometries(), seed=seeds)
def test_avgpool_matches_torch(torch, geometry, seed):
    x = normal_array(seed, geometry.input_shape)
    pool = make_pool(AvgPool2d, geometry)
    out = pool.forward(x)
    dout = normal_array(seed + 1, out.shape)
    dx = pool.backward(dout)
    out_t, dx_t = torch_pool(torch, AvgPool2d, geometry, x, dout)
    np.testing.assert_allclose(out, out_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
def test_maxpool_minus_inf_input_routes_gradient_to_real_pixels(monkeypatch, kernels):
    # Padding is -inf too, so it ties with these inputs; it must never win.
    monkeypatch.setenv("NNSCRATCH_KERNELS", kernels)
    x = np.full((1, 1, 3, 3), -np.inf)
    pool = MaxPool2d(3, stride=2, padding=1)
    out = pool.forward(x)
    dx = pool.backward(np.ones_like(out))
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -np.inf))
    assert dx.sum() == out.size  # no gradient lost to the padding
    np.testing.assert_array_equal(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
