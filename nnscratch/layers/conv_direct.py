"""Stride-1 convolution of inputs with few channels, without im2col.

``Conv2d`` sends a layer here when ``direct_applies`` returns True: stride 1,
at most ``DIRECT_MAX_CHANNELS`` input channels, padding smaller than the
kernel on every side, output rows at least ``MIN_OUTPUT_WIDTH`` wide, and
samples small enough for per-sample buffers. Each sample is padded into a
buffer of flat rows and convolved by ``nnscratch.kernels.direct_conv``,
whose docstring derives the flat-row sums. The three products of a
convolution become::

    out[n] = correlate(x_pad[n], W) + b                    forward
    dW    += weight_correlation(x_pad[n], dout[n])         weight gradient
    dx[n]  = correlate(dout_pad[n], W_flipped)             input gradient

The input gradient is a "full" correlation of the output gradient with the
kernel turned by 180 degrees and its filter and channel axes swapped:
``dx[c, h, w] = sum over f, i, j of W[f, c, i, j] * dout[f, h + P_top - i,
w + P_left - j]``. With ``i' = KH - 1 - i`` this reads
``W_flipped[c, f, i', j'] * dout_pad[f, h + i', w + j']``, where ``dout_pad``
is ``dout`` shifted down by ``KH - 1 - P_top`` rows and right by
``KW - 1 - P_left`` columns, with zeros around it, in a buffer of
``H + KH - 1`` rows and ``W + KW - 1`` columns. The shifts are not negative,
and ``dout`` (``H + P_top + P_bottom - KH + 1`` rows) fits below its shift,
exactly when every side's padding is smaller than the kernel, which is why
``direct_applies`` requires it.

NOTE: with an infinite or NaN weight, the input gradient is NaN next to the
border, where im2col + GEMM and PyTorch give infinities or finite values.
The flipped kernel also multiplies the zeros around ``dout_pad``, and
0 * inf is NaN. A weight is only infinite once training has diverged.

Each function handles samples ``n_lo:n_hi`` so that ``runtime.map_batch``
can run ranges of the batch at once, and each range gets its own buffers.
Small images are stacked one under another into a tall image, so that one
kernel call covers several samples. Each sample's padding keeps its windows
apart from the next sample's pixels, and the output rows that straddle two
samples are dropped.

Forward and backward of the course's first layer (32 x 3 x 224 x 224, 16
filters 5x5, padding 2) take 161 ms here against 228 ms by im2col + GEMM at
one thread (`python -m benchmarks profile --threads 1`, AMD EPYC Zen 4 VM).
BENCHMARKS.md has the table.
"""

import numpy as np

from nnscratch.kernels.direct_conv import correlate_rows, weight_correlation

# Inputs with more channels than this go through im2col + GEMM, whose inner
# dimension C * KH * KW is then large enough for the BLAS.
DIRECT_MAX_CHANNELS = 4

# The kernels loop along output rows, and the input gradient pads the output
# gradient by up to KW - 1 columns on each side, so small maps gain nothing.
# Forward and backward with the input gradient took, direct against im2col +
# GEMM (median of nine calls, one thread, AMD EPYC Zen 4 VM):
# - 32 x 3 x 32 x 32, 16 filters 3x3, padding 1: 2.7 against 3.7 ms.
# - 64 x 1 x 28 x 28, 32 filters 5x5, padding 2 (the classifier's first
#   layer): 6.6 against 5.9 ms.
# - 64 x 3 x 14 x 14, 16 filters 5x5: 2.0 against 1.7 ms.
MIN_OUTPUT_WIDTH = 32

# Each thread keeps up to three buffers of one stack of samples (the padded
# input, and the padded output or output gradient and the result), each with
# at most max(F, C + 1) channels. Samples whose buffers would be larger than
# this go through im2col + GEMM, whose tiles bound its memory.
MAX_SAMPLE_BYTES = 2**24

# Small images are stacked one under another into one tall image, so that one
# kernel call covers several samples. A stack's largest buffer takes about
# this many bytes (one sample at least).
STACK_BYTES = 2**20


def direct_applies(x_shape, weight_shape, stride, pads, itemsize):
    """Return True when a convolution should take the direct path.

    Parameters
    ----------
    x_shape : (N, C, H, W)
    weight_shape : (F, C, KH, KW)
    stride : pair of int
    pads : (top, bottom, left, right)
    itemsize : int
        Bytes per value.
    """
    _, C, H, W = x_shape
    F, _, KH, KW = weight_shape
    top, bottom, left, right = pads
    OW = W + left + right - KW + 1
    # An upper bound on each per-sample buffer: its channels times the input
    # padded by less than a kernel on each side.
    channels = _buffer_channels(C, F)
    sample_bytes = channels * (H + 2 * KH) * (W + 2 * KW) * itemsize
    return (
        C <= DIRECT_MAX_CHANNELS
        and tuple(stride) == (1, 1)
        and max(top, bottom) < KH
        and max(left, right) < KW
        and OW >= MIN_OUTPUT_WIDTH
        and sample_bytes <= MAX_SAMPLE_BYTES
    )


def stack_size(channels, rows, width, itemsize, samples):
    """Return how many of ``samples`` samples make one stack, so that a
    buffer (channels, samples, rows, width) stays near ``STACK_BYTES``."""
    per_sample = channels * rows * width * itemsize
    return max(1, min(samples, STACK_BYTES // per_sample))


def _buffer_channels(C, F):
    """Return the most channels a buffer of the direct path has: F for the
    output and its gradient, C for the input, up to C + 1 for the input
    gradient (see ``_InputGradient``)."""
    return max(F, C + 1)


def stacked_length(samples, rows, out_rows, width, out_cols):
    """Return the number of flat positions t that cover ``samples`` stacked
    images of ``rows`` rows each, up to the last output pixel of the last one.

    That pixel is in row (samples - 1) * rows + out_rows - 1 of the stack and
    in column out_cols - 1.
    """
    return ((samples - 1) * rows + out_rows - 1) * width + out_cols


def direct_forward_samples(x, weight, bias, n_lo, n_hi, pads, out):
    """Write samples ``n_lo:n_hi`` of the convolution of ``x`` into ``out``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    weight : ndarray of shape (F, C, KH, KW), C-contiguous
    bias : ndarray of shape (F,) or None
    n_lo, n_hi : int
    pads : (top, bottom, left, right)
    out : ndarray of shape (N, F, OH, OW)
    """
    _, C, H, W = x.shape
    F = weight.shape[0]
    _, _, OH, OW = out.shape
    top, bottom, left, right = pads
    rows, width = H + top + bottom, W + left + right
    per_stack = stack_size(_buffer_channels(C, F), rows, width, x.itemsize,
                           n_hi - n_lo)

    x_stack = np.zeros((C, per_stack, rows, width), dtype=x.dtype)
    flat = np.empty((F, per_stack, rows, width), dtype=x.dtype)
    initial = (np.zeros(F, dtype=x.dtype) if bias is None
               else np.ascontiguousarray(bias, dtype=x.dtype))
    for n in range(n_lo, n_hi, per_stack):
        m = min(per_stack, n_hi - n)
        _place(x[n : n + m], x_stack, top, left)
        length = stacked_length(m, rows, OH, width, OW)
        correlate_rows(x_stack.reshape(C, -1), weight, width, length, initial,
                       flat.reshape(F, -1))
        out[n : n + m] = flat[:, :m, :OH, :OW].transpose(1, 0, 2, 3)


def direct_backward_samples(x, dout, weight, n_lo, n_hi, pads, dx, has_bias):
    """Return the weight gradient (F, C, KH, KW) and bias gradient (F,) of
    samples ``n_lo:n_hi``, and write their input gradient into ``dx``.

    The bias gradient is None without bias, and ``dx`` is left alone when it
    is None. ``dout`` has shape (N, F, OH, OW) and is C-contiguous. The other
    arguments are as in ``direct_forward_samples``.
    """
    _, C, H, W = x.shape
    F = weight.shape[0]
    top, bottom, left, right = pads
    rows, width = H + top + bottom, W + left + right
    per_stack = stack_size(_buffer_channels(C, F), rows, width, x.itemsize,
                           n_hi - n_lo)

    x_stack = np.zeros((C, per_stack, rows, width), dtype=x.dtype)
    dW = np.zeros(weight.shape, dtype=x.dtype)
    db = dout[n_lo:n_hi].sum(axis=(0, 2, 3)) if has_bias else None
    input_grad = None
    if dx is not None:
        input_grad = _InputGradient(weight, pads, (H, W), per_stack, dx.dtype)
    for n in range(n_lo, n_hi, per_stack):
        m = min(per_stack, n_hi - n)
        _place(x[n : n + m], x_stack, top, left)
        weight_correlation(x_stack.reshape(C, -1), dout[n : n + m], width, rows, dW)
        if input_grad is not None:
            dx[n : n + m] = input_grad(dout[n : n + m])
    return dW, db


def _place(images, stack, top, left):
    """Copy ``images`` (m, C, H, W) into the first m samples of ``stack``
    (C, samples, rows, width), with their top-left pixel at (top, left)."""
    m, _, H, W = images.shape
    stack[:, :m, top : top + H, left : left + W] = images.transpose(1, 0, 2, 3)


class _InputGradient:
    """The input gradient of a stack of samples: the full correlation of their
    output gradient with the flipped kernel (see the module docstring).

    Built once per range of samples, it keeps the flipped kernel and the
    buffers that each call refills: the zero-bordered output gradient and
    the flat result.
    """

    def __init__(self, weight, pads, input_size, per_stack, dtype):
        F, C, KH, KW = weight.shape
        top, _, left, _ = pads
        H, W = input_size
        # The kernel computes four output channels at a time, at about half
        # the cost per channel of its one-channel loop. The 3-channel input
        # gradient of the course's first layer took 76 ms in that loop and
        # 57 ms as a block of four (one thread). So three leftover channels
        # are cheaper as a block of four with one zero filter (its output is
        # dropped). One or two leftovers take the one-channel loop.
        C_blocked = C + 1 if C % 4 == 3 else C
        self.flipped = np.zeros((C_blocked, F, KH, KW), dtype=dtype)
        self.flipped[:C] = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        self.rows, self.width = H + KH - 1, W + KW - 1
        self.dout_offset = (KH - 1 - top, KW - 1 - left)
        self.dout_stack = np.zeros((F, per_stack, self.rows, self.width), dtype=dtype)
        self.flat = np.empty((C_blocked, per_stack, self.rows, self.width),
                             dtype=dtype)
        self.zeros = np.zeros(C_blocked, dtype=dtype)
        self.input_size = (C, H, W)

    def __call__(self, dout):
        """Return the input gradient (m, C, H, W) of ``dout`` (m, F, OH, OW)."""
        C, H, W = self.input_size
        m, F, _, _ = dout.shape
        _place(dout, self.dout_stack, *self.dout_offset)
        length = stacked_length(m, self.rows, H, self.width, W)
        correlate_rows(self.dout_stack.reshape(F, -1), self.flipped, self.width,
                       length, self.zeros, self.flat.reshape(len(self.flat), -1))
        return self.flat[:C, :m, :H, :W].transpose(1, 0, 2, 3)
