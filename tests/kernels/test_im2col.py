"""im2col and col2im: Numba kernels equal their NumPy twins; the pair is adjoint."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import Geometry, conv_geometries, edge_value_arrays, normal_array, seeds

from nnscratch.kernels import (
    col2im,
    col2im_numba,
    col2im_numpy,
    im2col,
    im2col_numba,
    im2col_numpy,
)


def col2im_args(geometry):
    g = geometry
    return (g.N, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW)


def im2col_loops(x, geometry):
    """Slow reference straight from the documented column layout."""
    g = geometry
    cols = np.zeros((g.C * g.KH * g.KW, g.N * g.OH * g.OW), dtype=x.dtype)
    for n, c, i, j, oh, ow in np.ndindex(g.N, g.C, g.KH, g.KW, g.OH, g.OW):
        h = oh * g.SH - g.PH + i
        w = ow * g.SW - g.PW + j
        if 0 <= h < g.H and 0 <= w < g.W:
            cols[(c * g.KH + i) * g.KW + j, (n * g.OH + oh) * g.OW + ow] = x[n, c, h, w]
    return cols


def assert_same_bits(actual, expected):
    """Assert equal shape, dtype and values, telling 0.0 from -0.0."""
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))


# Hand-picked geometries: one pixel, a 1x1 output, stride past the kernel,
# padding wider than the kernel, and an empty batch.
EDGE_GEOMETRIES = [
    Geometry(N=1, C=1, H=1, W=1, KH=1, KW=1, SH=1, SW=1, PH=0, PW=0),
    Geometry(N=1, C=2, H=3, W=3, KH=3, KW=3, SH=2, SW=2, PH=0, PW=0),
    Geometry(N=2, C=1, H=5, W=4, KH=2, KW=1, SH=3, SW=3, PH=0, PW=0),
    Geometry(N=1, C=1, H=2, W=2, KH=1, KW=3, SH=1, SW=2, PH=2, PW=3),
    Geometry(N=0, C=2, H=4, W=4, KH=3, KW=3, SH=1, SW=1, PH=1, PW=1),
]


def edge_array(shape):
    """Return values that must be copied exactly: -0.0, infinities, extremes."""
    pattern = np.array([-0.0, np.inf, -np.inf, 3e38, -1e-30, 0.0, 1.5, -2.5])
    return np.resize(pattern, shape).astype(np.float64)


@pytest.mark.parametrize("geometry", EDGE_GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_twins_agree_on_edge_arrays(geometry, dtype):
    x = edge_array(geometry.input_shape).astype(dtype)
    expected = im2col_loops(x, geometry)
    assert_same_bits(im2col_numpy(x, *geometry.kernel_args), expected)
    if x.size:
        assert_same_bits(im2col_numba(x, *geometry.kernel_args), expected)
    assert_same_bits(im2col(x, *geometry.kernel_args), expected)


@pytest.mark.parametrize("geometry", EDGE_GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_twins_agree_on_edge_arrays(geometry, dtype):
    g = geometry
    cols = edge_array((g.C * g.KH * g.KW, g.N * g.OH * g.OW)).astype(dtype)
    expected = col2im_numpy(cols, *col2im_args(g))
    assert expected.shape == g.input_shape
    assert expected.dtype == dtype
    if cols.size:
        assert_same_bits(col2im_numba(cols, *col2im_args(g)), expected)
    assert_same_bits(col2im(cols, *col2im_args(g)), expected)


@st.composite
def geometries_with_edge_values(draw):
    geometry = draw(conv_geometries(min_batch=0, max_batch=2))
    return geometry, draw(edge_value_arrays(geometry.input_shape))


@given(case=geometries_with_edge_values())
def test_im2col_twins_agree_on_drawn_arrays(case):
    geometry, x = case
    expected = im2col_loops(x, geometry)
    assert_same_bits(im2col_numpy(x, *geometry.kernel_args), expected)
    assert_same_bits(im2col(x, *geometry.kernel_args), expected)


@given(geometry=conv_geometries(min_batch=0, max_batch=2), seed=seeds)
def test_col2im_twins_agree_on_drawn_arrays(geometry, seed):
    g = geometry
    cols = normal_array(seed, (g.C * g.KH * g.KW, g.N * g.OH * g.OW))
    expected = col2im_numpy(cols, *col2im_args(g))
    # Both twins add each pixel's contributions in kernel-offset order, so
    # the sums agree bit for bit.
    assert_same_bits(col2im(cols, *col2im_args(g)), expected)


@given(geometry=conv_geometries(min_batch=0, max_batch=2), seed=seeds)
def test_im2col_and_col2im_are_adjoint(geometry, seed):
    g = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(g.input_shape)
    y = rng.standard_normal((g.C * g.KH * g.KW, g.N * g.OH * g.OW))
    for unfold, fold in ((im2col_numpy, col2im_numpy), (im2col, col2im)):
        left = np.vdot(unfold(x, *g.kernel_args), y)
        right = np.vdot(x, fold(y, *col2im_args(g)))
        np.testing.assert_allclose(left, right, rtol=1e-12, atol=1e-12)


def test_im2col_accepts_non_contiguous_input():
    g = Geometry(N=2, C=3, H=4, W=5, KH=2, KW=3, SH=1, SW=2, PH=1, PW=1)
    base = normal_array(0, (g.N, g.H, g.W, g.C))
    x = base.transpose(0, 3, 1, 2)  # (N, C, H, W) view, not C-contiguous
    expected = im2col_loops(x, g)
    np.testing.assert_array_equal(im2col(x, *g.kernel_args), expected)
    np.testing.assert_array_equal(im2col_numpy(x, *g.kernel_args), expected)


def test_numpy_twins_selected_by_environment(monkeypatch):
    g = Geometry(N=1, C=1, H=3, W=3, KH=2, KW=2, SH=1, SW=1, PH=0, PW=0)
    x = normal_array(1, g.input_shape)
    monkeypatch.setenv("NNSCRATCH_KERNELS", "numpy")
    np.testing.assert_array_equal(im2col(x, *g.kernel_args), im2col_loops(x, g))


def test_python_versions_equal_compiled_kernels():
    g = Geometry(N=2, C=2, H=5, W=4, KH=3, KW=2, SH=2, SW=1, PH=1, PW=1)
    x = normal_array(2, g.input_shape)
    cols = im2col_numba(x, *g.kernel_args)
    np.testing.assert_array_equal(im2col_numba.py_func(x, *g.kernel_args), cols)
    np.testing.assert_array_equal(
        col2im_numba.py_func(cols, *col2im_args(g)), col2im_numba(cols, *col2im_args(g))
    )


def test_kernels_run_with_every_thread():
    import numba

    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
