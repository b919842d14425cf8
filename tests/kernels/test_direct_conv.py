"""Direct convolution kernels: Numba equals the NumPy twin, and both follow
the flat-row sums of the module docstring."""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.kernels import direct_conv
from nnscratch.kernels.direct_conv import (
    correlate_rows_numba,
    correlate_rows_numpy,
    weight_correlation_numba,
    weight_correlation_numpy,
)


@dataclass(frozen=True)
class FlatRows:
    """Images of ``rows`` x ``width`` pixels flattened, and a kernel that fits."""

    C: int
    F: int
    KH: int
    KW: int
    rows: int
    width: int

    @property
    def length(self):
        """Output positions: up to the last valid pixel of the last row."""
        return (self.rows - self.KH) * self.width + self.width - self.KW + 1


@st.composite
def flat_rows(draw):
    KH, KW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return FlatRows(C=draw(st.integers(1, 5)), F=draw(st.integers(1, 9)), KH=KH,
                    KW=KW, rows=KH + draw(st.integers(0, 4)),
                    width=KW + draw(st.integers(0, 4)))


def correlate_loops(x, W, width, length, initial):
    """Sum (1) of the module docstring term by term."""
    F, C, KH, KW = W.shape
    out = np.empty((F, length))
    for f, t in np.ndindex(F, length):
        out[f, t] = initial[f] + sum(
            W[f, c, i, j] * x[c, t + i * width + j]
            for c, i, j in np.ndindex(C, KH, KW))
    return out


def weight_correlation_loops(x, d, width, length, shape):
    """Sum (2) of the module docstring term by term."""
    dW = np.zeros(shape)
    for f, c, i, j in np.ndindex(shape):
        dW[f, c, i, j] = sum(d[f, t] * x[c, t + i * width + j] for t in range(length))
    return dW


def arrays(case, seed, dtype=np.float64):
    """Return image rows, weights, initial values and an output gradient."""
    x = normal_array(seed, (case.C, case.rows * case.width), dtype)
    W = normal_array(seed + 1, (case.F, case.C, case.KH, case.KW), dtype)
    initial = normal_array(seed + 2, (case.F,), dtype)
    d = normal_array(seed + 3, (case.F, case.length + 2), dtype)
    return x, W, initial, d


@given(case=flat_rows(), seed=seeds)
def test_correlate_twins_follow_the_flat_row_sum(case, seed):
    x, W, initial, _ = arrays(case, seed)
    expected = correlate_loops(x, W, case.width, case.length, initial)
    for twin in (correlate_rows_numpy, correlate_rows_numba):
        # Two spare columns, which must stay untouched.
        out = np.full((case.F, case.length + 2), 7.0)
        twin(x, W, case.width, case.length, initial, out)
        np.testing.assert_allclose(out[:, : case.length], expected, rtol=1e-12,
                                   atol=1e-12, err_msg=twin.__name__)
        assert np.all(out[:, case.length :] == 7.0)


@given(case=flat_rows(), seed=seeds)
def test_weight_correlation_twins_add_the_flat_row_sum(case, seed):
    x, W, _, d = arrays(case, seed)
    expected = weight_correlation_loops(x, d, case.width, case.length, W.shape)
    for twin in (weight_correlation_numpy, weight_correlation_numba):
        dW = np.ones(W.shape)
        twin(x, d, case.width, case.length, dW)
        np.testing.assert_allclose(dW, 1.0 + expected, rtol=1e-12, atol=1e-12,
                                   err_msg=twin.__name__)


@given(case=flat_rows(), seed=seeds)
def test_float32_twins_agree_to_rounding(case, seed):
    x, W, initial, d = arrays(case, seed, np.float32)
    outs = [twin(x, W, case.width, case.length, initial,
                 np.empty((case.F, case.length), np.float32))
            for twin in (correlate_rows_numpy, correlate_rows_numba)]
    grads = [twin(x, d, case.width, case.length, np.zeros(W.shape, np.float32))
             for twin in (weight_correlation_numpy, weight_correlation_numba)]
    for ours, theirs in (outs, grads):
        assert ours.dtype == theirs.dtype == np.float32
        # float32 sums of at most 100 or 400 terms of size ~1.
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_nan_pixel_reaches_its_windows():
    # Exactly the outputs whose window contains the NaN become NaN.
    case = FlatRows(C=2, F=5, KH=3, KW=2, rows=6, width=7)
    x, W, initial, d = arrays(case, seed=3)
    x[1, 2 * case.width + 4] = np.nan  # channel 1, row 2, column 4
    for twin in (correlate_rows_numpy, correlate_rows_numba):
        out = twin(x, W, case.width, case.length, initial,
                   np.empty((case.F, case.length)))
        t = np.arange(case.length)
        row, col = t // case.width, t % case.width
        covers = (row <= 2) & (row >= 2 - case.KH + 1) & (col <= 4) & (
            col >= 4 - case.KW + 1)
        np.testing.assert_array_equal(np.isnan(out), np.broadcast_to(covers, out.shape),
                                      err_msg=twin.__name__)
    for twin in (weight_correlation_numpy, weight_correlation_numba):
        dW = twin(x, d, case.width, case.length, np.zeros(W.shape))
        # Every tap of channel 1 reads the NaN at some t; channel 0 never does.
        assert np.all(np.isnan(dW[:, 1]))
        assert not np.any(np.isnan(dW[:, 0]))


def test_correlate_kernel_is_compiled_once_per_kernel_width():
    assert direct_conv._correlate_rows_kernel(3) is direct_conv._correlate_rows_kernel(3)
    assert direct_conv._correlate_rows_kernel(3) is not direct_conv._correlate_rows_kernel(5)


@pytest.mark.parametrize("kernels", ["numba", "numpy"])
def test_dispatchers_follow_the_kernel_switch(monkeypatch, kernels):
    monkeypatch.setenv("NNSCRATCH_KERNELS", kernels)
    calls = []
    for name in ("correlate_rows", "weight_correlation"):
        twin = getattr(direct_conv, f"{name}_{kernels}")
        monkeypatch.setattr(direct_conv, f"{name}_{kernels}",
                            lambda *args, twin=twin, name=name: calls.append(name)
                            or twin(*args))
    case = FlatRows(C=1, F=2, KH=2, KW=2, rows=3, width=3)
    x, W, initial, d = arrays(case, seed=0)
    direct_conv.correlate_rows(x, W, case.width, case.length, initial,
                               np.empty((case.F, case.length)))
    direct_conv.weight_correlation(x, d, case.width, case.length, np.zeros(W.shape))
    assert calls == ["correlate_rows", "weight_correlation"]
