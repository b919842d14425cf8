"""BatchNorm and leaky-rectifier kernels: each Numba kernel equals its NumPy twin."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.kernels.activation import (
    leaky_relu_backward,
    leaky_relu_backward_numba,
    leaky_relu_backward_numpy,
    leaky_relu_forward,
    leaky_relu_forward_numba,
    leaky_relu_forward_numpy,
)
from nnscratch.kernels.batchnorm import (
    batchnorm_backward_numba,
    batchnorm_backward_numpy,
    batchnorm_forward_numba,
    batchnorm_forward_numpy,
    batchnorm_statistics,
    batchnorm_statistics_numba,
    batchnorm_statistics_numpy,
)

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5),
                   st.integers(1, 5))
dtypes = st.sampled_from([np.float32, np.float64])
slopes = st.sampled_from([0.0, 0.01, 0.1, 0.5, -0.3])

# float32 twins sum in a different order, so they agree to float32 rounding.
TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-5),
             np.float64: dict(rtol=1e-12, atol=1e-12)}


def batchnorm_arguments(seed, shape, dtype):
    """Return x, a per-channel mean and inv_std in x's dtype, gamma and beta."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    offsets = rng.standard_normal((1, C, 1, 1))
    x = (3 * normal_array(seed, shape) + offsets).astype(dtype)
    mean, var = batchnorm_statistics(x)
    inv_std = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    return x, mean.astype(dtype), inv_std, gamma, beta


@given(shape=shapes, seed=seeds, dtype=dtypes)
def test_batchnorm_statistics_match_two_pass_formula(shape, seed, dtype):
    x = (5 * normal_array(seed, shape) + 100).astype(dtype)
    values = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(shape[1], -1)
    mean = values.mean(axis=1)
    var = ((values - mean[:, None]) ** 2).mean(axis=1)
    for version in (batchnorm_statistics_numpy, batchnorm_statistics_numba):
        got_mean, got_var = version(x)
        assert got_mean.dtype == got_var.dtype == np.float64
        np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(got_var, var, rtol=1e-9, atol=1e-12)


@given(shape=shapes, seed=seeds, dtype=dtypes)
def test_batchnorm_forward_twins_agree(shape, seed, dtype):
    args = batchnorm_arguments(seed, shape, dtype)
    expected = batchnorm_forward_numpy(*args)
    got = batchnorm_forward_numba(*args)
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


@given(shape=shapes, seed=seeds, dtype=dtypes, batch_statistics=st.booleans())
def test_batchnorm_backward_twins_agree(shape, seed, dtype, batch_statistics):
    x, mean, inv_std, gamma, _ = batchnorm_arguments(seed, shape, dtype)
    dout = normal_array(seed + 1, shape).astype(dtype)
    expected = batchnorm_backward_numpy(dout, x, mean, inv_std, gamma, batch_statistics)
    got = batchnorm_backward_numba(dout, x, mean, inv_std, gamma, batch_statistics)
    for name, a, b in zip(("dx", "dgamma", "dbeta"), got, expected):
        assert a.dtype == b.dtype == dtype, name
        assert a.shape == b.shape, name
        # dx sums m terms that nearly cancel, so its error scales with m |dout|.
        scale = np.abs(dout).max() * (x.size // shape[1])
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype]["rtol"],
                                   atol=TOLERANCE[dtype]["atol"] * scale, err_msg=name)


def test_batchnorm_backward_by_hand():
    # One channel, m = 4: x_hat = [-a, -b, b, a] with known sums.
    x = np.array([1.0, 2.0, 4.0, 5.0]).reshape(1, 1, 2, 2)
    mean, var = batchnorm_statistics(x)
    np.testing.assert_array_equal(mean, [3.0])
    np.testing.assert_array_equal(var, [2.5])
    inv_std = 1 / np.sqrt(var)
    dout = np.array([1.0, 0.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
    x_hat = (x - 3.0) * inv_std[0]
    for version in (batchnorm_backward_numpy, batchnorm_backward_numba):
        dx, dgamma, dbeta = version(dout, x, mean, inv_std, np.array([2.0]), True)
        np.testing.assert_allclose(dgamma, [x_hat.flat[0]], rtol=1e-15)
        np.testing.assert_allclose(dbeta, [1.0], rtol=1e-15)
        expected = 2.0 * inv_std[0] / 4 * (4 * dout - 1.0 - x_hat * x_hat.flat[0])
        np.testing.assert_allclose(dx, expected, rtol=1e-14, atol=1e-15)


SPECIAL = np.array([-np.inf, -1e30, -2.0, -0.0, 0.0, 3.0, 1e30, np.inf, np.nan])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("slope", [0.0, 0.1, -0.3])
def test_leaky_relu_twins_special_values(dtype, slope):
    x = SPECIAL.astype(dtype)
    dout = np.linspace(-4, 4, x.size).astype(dtype)
    forward = [leaky_relu_forward_numpy(x, slope), leaky_relu_forward_numba(x, slope)]
    backward = [leaky_relu_backward_numpy(dout, x, slope),
                leaky_relu_backward_numba(dout, x, slope)]
    for got in forward + backward:
        assert got.dtype == dtype
    # Equal bit for bit, the sign of zero included.
    np.testing.assert_array_equal(forward[1], forward[0])
    np.testing.assert_array_equal(np.signbit(forward[1]), np.signbit(forward[0]))
    np.testing.assert_array_equal(backward[1], backward[0])
    np.testing.assert_array_equal(np.signbit(backward[1]), np.signbit(backward[0]))
    if slope == 0:
        np.testing.assert_array_equal(forward[0], np.where(x > 0, x, 0))
        assert not np.signbit(forward[0]).any()
    else:
        np.testing.assert_array_equal(forward[0], np.where(x > 0, x, dtype(slope) * x))


@given(shape=shapes, seed=seeds, dtype=dtypes, slope=slopes)
def test_leaky_relu_twins_agree(shape, seed, dtype, slope):
    x = normal_array(seed, shape).astype(dtype)
    dout = normal_array(seed + 1, shape).astype(dtype)
    np.testing.assert_array_equal(leaky_relu_forward_numba(x, slope),
                                  leaky_relu_forward_numpy(x, slope))
    np.testing.assert_array_equal(leaky_relu_backward_numba(dout, x, slope),
                                  leaky_relu_backward_numpy(dout, x, slope))


def test_leaky_relu_non_contiguous_input(monkeypatch):
    base = normal_array(3, (2, 5, 4, 3))
    x = base.transpose(0, 3, 1, 2)  # not C-contiguous
    dout = normal_array(4, x.shape)
    expected_forward = np.where(x > 0, x, 0.1 * x)
    expected_backward = np.where(x > 0, dout, 0.1 * dout)
    for kernels in ("numba", "numpy"):
        monkeypatch.setenv("NNSCRATCH_KERNELS", kernels)
        np.testing.assert_array_equal(leaky_relu_forward(x, 0.1), expected_forward)
        np.testing.assert_array_equal(leaky_relu_backward(dout, x, 0.1),
                                      expected_backward)
