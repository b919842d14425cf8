"""Max-pool kernels: Numba forward and backward equal their NumPy twins."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    Geometry,
    edge_value_arrays,
    normal_array,
    pool_geometries,
    seeds,
    tied_arrays,
)

from nnscratch.kernels import (
    maxpool_backward,
    maxpool_backward_numba,
    maxpool_backward_numpy,
    maxpool_forward,
    maxpool_forward_numba,
    maxpool_forward_numpy,
)


def assert_forward_twins_agree(x, geometry):
    """Assert that every forward version returns the same output and argmax."""
    out, argmax = maxpool_forward_numpy(x, *geometry.kernel_args)
    assert out.shape == argmax.shape == (geometry.N, geometry.C, geometry.OH,
                                         geometry.OW)
    assert out.dtype == x.dtype
    assert argmax.dtype == np.int64
    versions = [maxpool_forward]
    if x.size:
        versions.append(maxpool_forward_numba)
    for version in versions:
        other_out, other_argmax = version(x, *geometry.kernel_args)
        np.testing.assert_array_equal(other_out, out)
        np.testing.assert_array_equal(np.signbit(other_out), np.signbit(out))
        np.testing.assert_array_equal(other_argmax, argmax)
    return out, argmax


def assert_backward_twins_agree(dout, argmax, geometry):
    dx = maxpool_backward_numpy(dout, argmax, geometry.H, geometry.W)
    assert dx.shape == geometry.input_shape
    assert dx.dtype == dout.dtype
    np.testing.assert_array_equal(maxpool_backward(dout, argmax, geometry.H,
                                                   geometry.W), dx)
    if dout.size:
        np.testing.assert_array_equal(
            maxpool_backward_numba(dout, argmax, geometry.H, geometry.W), dx
        )
    return dx


EDGE_GEOMETRIES = [
    Geometry(N=1, C=1, H=1, W=1, KH=1, KW=1, SH=1, SW=1, PH=0, PW=0),
    Geometry(N=1, C=1, H=3, W=3, KH=3, KW=3, SH=1, SW=1, PH=1, PW=1),
    Geometry(N=2, C=2, H=4, W=5, KH=2, KW=3, SH=1, SW=2, PH=1, PW=1),
    Geometry(N=0, C=3, H=4, W=4, KH=2, KW=2, SH=2, SW=2, PH=0, PW=0),
    Geometry(N=1, C=0, H=4, W=4, KH=2, KW=2, SH=2, SW=2, PH=0, PW=0),
]


@pytest.mark.parametrize("geometry", EDGE_GEOMETRIES)
@pytest.mark.parametrize("fill", ["ties", "negative_zero", "minus_inf", "inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_twins_agree_on_edge_arrays(geometry, fill, dtype):
    values = {"ties": 1.0, "negative_zero": -0.0, "minus_inf": -np.inf,
              "inf": np.inf}[fill]
    x = np.full(geometry.input_shape, values, dtype=dtype)
    if x.size:
        x.reshape(-1)[::3] = 0.0  # mix in other values, tied among themselves
    out, argmax = assert_forward_twins_agree(x, geometry)
    dout = np.ones(out.shape, dtype=dtype)
    assert_backward_twins_agree(dout, argmax, geometry)


def test_maxpool_all_minus_inf_window_picks_a_real_pixel():
    # The top-left window covers one padded row and column; all of its real
    # pixels are -inf, which must still beat the padding.
    g = Geometry(N=1, C=1, H=3, W=3, KH=3, KW=3, SH=2, SW=2, PH=1, PW=1)
    x = np.full(g.input_shape, -np.inf)
    out, argmax = assert_forward_twins_agree(x, g)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -np.inf))
    assert np.all((0 <= argmax) & (argmax < g.H * g.W))
    # First real pixel of each window in row-major order.
    np.testing.assert_array_equal(argmax[0, 0], [[0, 1], [3, 4]])


def test_maxpool_first_nan_wins_in_every_version():
    g = Geometry(N=1, C=1, H=2, W=2, KH=2, KW=2, SH=2, SW=2, PH=0, PW=0)
    x = np.array([[1.0, np.nan], [np.nan, 5.0]]).reshape(g.input_shape)
    out, argmax = assert_forward_twins_agree(x, g)
    assert np.isnan(out[0, 0, 0, 0])
    assert argmax[0, 0, 0, 0] == 1


@st.composite
def geometries_with(draw, arrays):
    geometry = draw(pool_geometries(min_batch=0))
    return geometry, draw(arrays(geometry.input_shape))


@given(case=geometries_with(tied_arrays), seed=seeds)
def test_maxpool_twins_agree_on_tied_arrays(case, seed):
    geometry, x = case
    out, argmax = assert_forward_twins_agree(x, geometry)
    assert_backward_twins_agree(normal_array(seed, out.shape), argmax, geometry)


@given(case=geometries_with(edge_value_arrays), seed=seeds)
def test_maxpool_twins_agree_on_special_values(case, seed):
    geometry, x = case
    out, argmax = assert_forward_twins_agree(x, geometry)
    assert_backward_twins_agree(normal_array(seed, out.shape), argmax, geometry)


@st.composite
def two_by_two_cases(draw):
    """Draw the common 2x2, stride-2, unpadded geometry (odd sides included)
    with values that tie, repeat specials and sometimes hold NaN."""
    g = Geometry(N=draw(st.integers(1, 2)), C=draw(st.integers(1, 2)),
                 H=draw(st.integers(2, 7)), W=draw(st.integers(2, 7)),
                 KH=2, KW=2, SH=2, SW=2, PH=0, PW=0)
    size = int(np.prod(g.input_shape))
    elements = st.one_of(st.sampled_from([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan]),
                         st.integers(-2, 2).map(float))
    values = draw(st.lists(elements, min_size=size, max_size=size))
    return g, np.asarray(values).reshape(g.input_shape)


@given(case=two_by_two_cases(), seed=seeds, dtype=st.sampled_from([np.float32,
                                                                   np.float64]))
def test_maxpool_2x2_fast_path_agrees_with_twin(case, seed, dtype):
    # Numba takes a branch-free path for this geometry, and falls back to the
    # general scan for planes that hold a NaN.
    geometry, x = case
    out, argmax = assert_forward_twins_agree(x.astype(dtype), geometry)
    assert_backward_twins_agree(normal_array(seed, out.shape).astype(dtype), argmax,
                                geometry)


def test_python_versions_equal_compiled_kernels():
    g = Geometry(N=2, C=2, H=5, W=4, KH=3, KW=2, SH=2, SW=1, PH=1, PW=1)
    x = np.round(normal_array(3, g.input_shape))  # rounded: plenty of ties
    out, argmax = maxpool_forward_numba(x, *g.kernel_args)
    py_out, py_argmax = maxpool_forward_numba.py_func(x, *g.kernel_args)
    np.testing.assert_array_equal(py_out, out)
    np.testing.assert_array_equal(py_argmax, argmax)
    dout = normal_array(4, out.shape)
    np.testing.assert_array_equal(
        maxpool_backward_numba.py_func(dout, argmax, g.H, g.W),
        maxpool_backward_numba(dout, argmax, g.H, g.W),
    )
