"""Reusable Hypothesis strategies: conv and pool geometries, test arrays.

Geometries are small on purpose: every gradient property runs two forward
passes per input element. Arrays are drawn from a seed (``seeds``) rather than
element by element, which keeps draws fast; the strategies that need exact
values (ties, distinct values) build them from permutations and small ints.
"""

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def output_size(size, kernel, stride, padding):
    """Return floor((size + 2 * padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


@dataclass(frozen=True)
class Geometry:
    """One layer call: input shape, kernel, stride and symmetric padding."""

    N: int
    C: int
    H: int
    W: int
    KH: int
    KW: int
    SH: int
    SW: int
    PH: int
    PW: int
    F: int = 1

    @property
    def OH(self):
        return output_size(self.H, self.KH, self.SH, self.PH)

    @property
    def OW(self):
        return output_size(self.W, self.KW, self.SW, self.PW)

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def kernel_size(self):
        return (self.KH, self.KW)

    @property
    def stride(self):
        return (self.SH, self.SW)

    @property
    def padding(self):
        return (self.PH, self.PW)

    @property
    def kernel_args(self):
        """The positional arguments of the im2col and max-pool kernels."""
        return (self.KH, self.KW, self.SH, self.SW, self.PH, self.PW,
                self.OH, self.OW)


@st.composite
def conv_geometries(draw, max_batch=3, max_channels=3, max_filters=3,
                    max_kernel=4, max_stride=3, max_padding=2, max_extra=4,
                    min_batch=1):
    """Draw a ``Geometry`` whose (possibly non-square) kernel fits the padded input.

    The input size is the smallest that fits the kernel plus 0 to ``max_extra``
    rows (columns), so 1x1 outputs and sizes where (H + 2P - KH) is not a
    multiple of the stride are both frequent.
    """
    KH = draw(st.integers(1, max_kernel))
    KW = draw(st.integers(1, max_kernel))
    SH = draw(st.integers(1, max_stride))
    SW = draw(st.integers(1, max_stride))
    PH = draw(st.integers(0, max_padding))
    PW = draw(st.integers(0, max_padding))
    H = max(1, KH - 2 * PH) + draw(st.integers(0, max_extra))
    W = max(1, KW - 2 * PW) + draw(st.integers(0, max_extra))
    N = draw(st.integers(min_batch, max_batch))
    C = draw(st.integers(1, max_channels))
    F = draw(st.integers(1, max_filters))
    return Geometry(N=N, C=C, H=H, W=W, KH=KH, KW=KW, SH=SH, SW=SW, PH=PH, PW=PW,
                    F=F)


@st.composite
def pool_geometries(draw, max_batch=2, max_channels=2, max_kernel=3, max_stride=3,
                    max_extra=4, min_batch=1):
    """Draw a pooling ``Geometry``: padding at most kernel // 2, as layers require.

    A stride smaller than the kernel gives overlapping windows.
    """
    KH = draw(st.integers(1, max_kernel))
    KW = draw(st.integers(1, max_kernel))
    SH = draw(st.integers(1, max_stride))
    SW = draw(st.integers(1, max_stride))
    PH = draw(st.integers(0, KH // 2))
    PW = draw(st.integers(0, KW // 2))
    H = max(1, KH - 2 * PH) + draw(st.integers(0, max_extra))
    W = max(1, KW - 2 * PW) + draw(st.integers(0, max_extra))
    N = draw(st.integers(min_batch, max_batch))
    C = draw(st.integers(1, max_channels))
    return Geometry(N=N, C=C, H=H, W=W, KH=KH, KW=KW, SH=SH, SW=SW, PH=PH, PW=PW)


def normal_array(seed, shape, dtype=np.float64):
    """Return standard normal values of ``shape`` drawn from ``seed``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def away_from_zero(seed, shape, margin=0.1):
    """Return float64 values with |x| >= ``margin``, so kinks at 0 stay far from
    every central-difference step."""
    rng = np.random.default_rng(seed)
    magnitude = margin + np.abs(rng.standard_normal(shape))
    return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)


@st.composite
def distinct_arrays(draw, shape, spacing=0.1):
    """Draw a float64 array of ``shape`` whose values differ by at least ``spacing``.

    Max pooling has a unique argmax in every window of such an array, and a
    central-difference step much smaller than ``spacing`` never changes it.
    """
    size = int(np.prod(shape))
    order = draw(st.permutations(range(size)))
    values = (np.asarray(order, dtype=np.float64) - size / 2) * spacing
    return values.reshape(shape)


@st.composite
def tied_arrays(draw, shape, levels=3):
    """Draw a float64 array of ``shape`` holding only ``levels`` distinct small
    integers, so most pooling windows contain ties."""
    size = int(np.prod(shape))
    values = draw(st.lists(st.integers(0, levels - 1), min_size=size, max_size=size))
    return np.asarray(values, dtype=np.float64).reshape(shape)


# Values that kernels must copy bit for bit: signed zeros, infinities, extremes.
special_floats = st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 1e300, -1e300, 5e-324, 2.5]
)


@st.composite
def edge_value_arrays(draw, shape):
    """Draw a float64 array of ``shape`` mixing ordinary floats and special values."""
    size = int(np.prod(shape))
    elements = st.one_of(
        special_floats,
        st.floats(-10, 10, allow_nan=False, allow_subnormal=False),
    )
    values = draw(st.lists(elements, min_size=size, max_size=size))
    return np.asarray(values, dtype=np.float64).reshape(shape)
