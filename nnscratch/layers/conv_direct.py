"""Stride-1 convolution of inputs with few channels, without im2col.

``Conv2d`` sends a layer here when ``direct_applies`` returns True: stride 1,
at most ``DIRECT_MAX_CHANNELS`` input channels, and padding smaller than the
kernel on every side. Each sample is padded into a buffer of flat rows and
convolved by ``nnscratch.kernels.direct_conv``, whose docstring derives the
flat-row sums. The three products of a convolution become::

    out[n] = correlate(x_pad[n], W) + b                    forward
    dW    += weight_correlation(x_pad[n], dout_flat[n])    weight gradient
    dx[n]  = correlate(dout_pad[n], W_flipped)             input gradient

The input gradient is a "full" correlation of the output gradient with the
kernel turned by 180 degrees and its filter and channel axes swapped:
``dx[c, h, w] = sum over f, i, j of W[f, c, i, j] * dout[f, h + P_top - i,
w + P_left - j]``. With ``i' = KH - 1 - i`` this reads
``W_flipped[c, f, i', j'] * dout_pad[f, h + i', w + j']``, where ``dout_pad``
is ``dout`` shifted down by ``KH - 1 - P_top`` rows and right by
``KW - 1 - P_left`` columns, with zeros around it.

Each function handles samples ``n_lo:n_hi`` so that ``runtime.map_batch``
can run ranges of the batch at once; buffers are per range. Small images are
stacked one under another into a tall image, so that one kernel call covers
several samples. Each sample's padding keeps its windows apart from the next
sample's pixels, and the output rows that straddle two samples are dropped.

On one core of the development VM (AMD EPYC Zen 4), forward and backward of
the course's first layer (32 x 3 x 224 x 224, 16 filters 5x5, padding 2)
took 167 ms here against 243 ms by im2col + GEMM (69 and 48 GFLOP/s; median
of five, both paths in one process).
"""

import numpy as np

from nnscratch.kernels.direct_conv import correlate_rows, weight_correlation

# Inputs with more channels than this go through im2col + GEMM, whose inner
# dimension C * KH * KW is then large enough for the BLAS.
DIRECT_MAX_CHANNELS = 4

# Small images are stacked one under another into one tall image, so that one
# kernel call covers several samples. A stack's output takes about this many
# bytes (one sample at least).
STACK_BYTES = 2**20


def direct_applies(in_channels, kernel_size, stride, pads):
    """Return True when a convolution should take the direct path."""
    KH, KW = kernel_size
    top, bottom, left, right = pads
    return (
        in_channels <= DIRECT_MAX_CHANNELS
        and tuple(stride) == (1, 1)
        and max(top, bottom) < KH
        and max(left, right) < KW
    )


def stack_size(channels, rows, width, itemsize):
    """Return how many samples of (channels, rows, width) make one stack."""
    return max(1, STACK_BYTES // (channels * rows * width * itemsize))


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
    per_stack = stack_size(F, rows, width, x.itemsize)

    x_stack = np.zeros((C, per_stack, rows, width), dtype=x.dtype)
    flat = np.empty((F, per_stack, rows, width), dtype=x.dtype)
    initial = bias if bias is not None else np.zeros(F, dtype=x.dtype)
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
    is None. ``dout`` has shape (N, F, OH, OW); the other arguments are as in
    ``direct_forward_samples``.
    """
    _, C, H, W = x.shape
    F = weight.shape[0]
    _, _, OH, OW = dout.shape
    top, bottom, left, right = pads
    rows, width = H + top + bottom, W + left + right
    per_stack = stack_size(F, rows, width, x.itemsize)

    x_stack = np.zeros((C, per_stack, rows, width), dtype=x.dtype)
    # Rows and columns past the output stay zero, so wrapped positions add
    # nothing to the weight gradient.
    dout_stack = np.zeros((F, per_stack, rows, width), dtype=x.dtype)
    dW = np.zeros(weight.shape, dtype=x.dtype)
    db = dout[n_lo:n_hi].sum(axis=(0, 2, 3)) if has_bias else None
    input_grad = None
    if dx is not None:
        input_grad = _InputGradient(weight, pads, (H, W), per_stack)
    for n in range(n_lo, n_hi, per_stack):
        m = min(per_stack, n_hi - n)
        _place(x[n : n + m], x_stack, top, left)
        _place(dout[n : n + m], dout_stack, 0, 0)
        length = stacked_length(m, rows, OH, width, OW)
        weight_correlation(x_stack.reshape(C, -1), dout_stack.reshape(F, -1), width,
                           length, dW)
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
    output gradient with the flipped kernel (see the module docstring)."""

    def __init__(self, weight, pads, input_size, per_stack):
        F, C, KH, KW = weight.shape
        top, _, left, _ = pads
        H, W = input_size
        # The kernel computes four output channels at a time and is about
        # twice as fast per channel that way, so C is rounded up to a multiple
        # of four with zero filters whose outputs are dropped.
        C_blocked = -(-C // 4) * 4
        self.flipped = np.zeros((C_blocked, F, KH, KW), dtype=weight.dtype)
        self.flipped[:C] = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        self.rows, self.width = H + KH - 1, W + KW - 1
        self.dout_offset = (KH - 1 - top, KW - 1 - left)
        self.dout_stack = np.zeros((F, per_stack, self.rows, self.width),
                                   dtype=weight.dtype)
        self.flat = np.empty((C_blocked, per_stack, self.rows, self.width),
                             dtype=weight.dtype)
        self.zeros = np.zeros(C_blocked, dtype=weight.dtype)
        self.size = (C, H, W)

    def __call__(self, dout):
        """Return the input gradient (m, C, H, W) of ``dout`` (m, F, OH, OW)."""
        C, H, W = self.size
        F = self.dout_stack.shape[0]
        m = dout.shape[0]
        _place(dout, self.dout_stack, *self.dout_offset)
        length = stacked_length(m, self.rows, H, self.width, W)
        correlate_rows(self.dout_stack.reshape(F, -1), self.flipped, self.width,
                       length, self.zeros, self.flat.reshape(len(self.flat), -1))
        return self.flat[:C, :m, :H, :W].transpose(1, 0, 2, 3)
