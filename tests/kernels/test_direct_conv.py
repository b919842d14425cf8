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
    """``samples`` images of ``rows`` x ``width`` pixels stacked and flattened,
    and a kernel that fits them."""

    C: int
    F: int
    KH: int
    KW: int
    rows: int
    width: int
    samples: int = 1

    @property
    def OH(self):
        return self.rows - self.KH + 1

    @property
    def OW(self):
        return self.width - self.KW + 1

    @property
    def length(self):
        """Output positions: up to the last output pixel of the last image."""
        return ((self.samples - 1) * self.rows + self.OH - 1) * self.width + self.OW


@st.composite
def flat_rows(draw):
    KH, KW = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return FlatRows(C=draw(st.integers(1, 5)), F=draw(st.integers(1, 9)), KH=KH,
                    KW=KW, rows=KH + draw(st.integers(0, 4)),
                    width=KW + draw(st.integers(0, 4)),
                    samples=draw(st.integers(1, 3)))


def correlate_loops(x, W, width, length, initial):
    """Sum (1) of the module docstring term by term."""
    F, C, KH, KW = W.shape
    out = np.empty((F, length))
    for f, t in np.ndindex(F, length):
        out[f, t] = initial[f] + sum(
            W[f, c, i, j] * x[c, t + i * width + j]
            for c, i, j in np.ndindex(C, KH, KW))
    return out


def weight_correlation_loops(x, dout, width, rows, shape):
    """Sum (2) of the module docstring term by term."""
    m, _, OH, OW = dout.shape
    dW = np.zeros(shape)
    for f, c, i, j in np.ndindex(shape):
        dW[f, c, i, j] = sum(
            dout[s, f, oh, ow] * x[c, (s * rows + oh + i) * width + ow + j]
            for s, oh, ow in np.ndindex(m, OH, OW))
    return dW


def arrays(case, seed, dtype=np.float64):
    """Return stacked image rows, weights, initial values and an output gradient."""
    x = normal_array(seed, (case.C, case.samples * case.rows * case.width), dtype)
    W = normal_array(seed + 1, (case.F, case.C, case.KH, case.KW), dtype)
    initial = normal_array(seed + 2, (case.F,), dtype)
    dout = normal_array(seed + 3, (case.samples, case.F, case.OH, case.OW), dtype)
    return x, W, initial, dout


@given(case=flat_rows(), seed=seeds)
def test_correlate_twins_match_loops(case, seed):
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
def test_weight_correlation_twins_match_loops(case, seed):
    x, W, _, dout = arrays(case, seed)
    expected = weight_correlation_loops(x, dout, case.width, case.rows, W.shape)
    for twin in (weight_correlation_numpy, weight_correlation_numba):
        dW = np.ones(W.shape)
        twin(x, dout, case.width, case.rows, dW)
        np.testing.assert_allclose(dW, 1.0 + expected, rtol=1e-12, atol=1e-12,
                                   err_msg=twin.__name__)


@given(case=flat_rows(), seed=seeds)
def test_float32_twins_agree_to_rounding(case, seed):
    x, W, initial, dout = arrays(case, seed, np.float32)
    outs = [twin(x, W, case.width, case.length, initial,
                 np.empty((case.F, case.length), np.float32))
            for twin in (correlate_rows_numpy, correlate_rows_numba)]
    grads = [twin(x, dout, case.width, case.rows, np.zeros(W.shape, np.float32))
             for twin in (weight_correlation_numpy, weight_correlation_numba)]
    for ours, theirs in (outs, grads):
        assert ours.dtype == theirs.dtype == np.float32
        # float32 sums of at most a few hundred terms of size ~1.
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_bad_pixel_reaches_only_its_windows(bad):
    # One image of 6 x 7 pixels, 3 x 2 kernel: outputs 4 x 6. The bad pixel
    # sits in the last column, which only tap j = 1 reaches from a real
    # output. The outputs that wrap into the next row read it with j = 0.
    case = FlatRows(C=2, F=5, KH=3, KW=2, rows=6, width=7)
    x, W, initial, dout = arrays(case, seed=3)
    row, col = 2, 6
    x[1, row * case.width + col] = bad
    t = np.arange(case.length)
    t_row, t_col = t // case.width, t % case.width
    for twin in (correlate_rows_numpy, correlate_rows_numba):
        out = twin(x, W, case.width, case.length, initial,
                   np.empty((case.F, case.length)))
        reached = ((t_row <= row) & (t_row > row - case.KH) & (t_col <= col)
                   & (t_col > col - case.KW))
        np.testing.assert_array_equal(~np.isfinite(out),
                                      np.broadcast_to(reached, out.shape),
                                      err_msg=twin.__name__)
    expected = np.zeros(W.shape, bool)
    for i, j in np.ndindex(case.KH, case.KW):
        expected[:, 1, i, j] = 0 <= row - i < case.OH and 0 <= col - j < case.OW
    for twin in (weight_correlation_numpy, weight_correlation_numba):
        dW = twin(x, dout, case.width, case.rows, np.zeros(W.shape))
        np.testing.assert_array_equal(~np.isfinite(dW), expected,
                                      err_msg=twin.__name__)


def test_correlate_kernel_compiled_once_per_width():
    compile_for_width = direct_conv._correlate_rows_kernel
    assert compile_for_width(3) is compile_for_width(3)
    assert compile_for_width(3) is not compile_for_width(5)


def test_each_width_own_cache_index():
    # Numba names a function's cache files after its qualified name, and
    # processes that share one index file can swap each other's entries.
    names = {direct_conv._correlate_rows_kernel(KW).py_func.__qualname__
             for KW in range(1, 8)}
    assert len(names) == 7


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
    x, W, initial, dout = arrays(case, seed=0)
    direct_conv.correlate_rows(x, W, case.width, case.length, initial,
                               np.empty((case.F, case.length)))
    direct_conv.weight_correlation(x, dout, case.width, case.rows, np.zeros(W.shape))
    assert calls == ["correlate_rows", "weight_correlation"]
