"""2-D convolution as im2col followed by one GEMM.

Forward, for a chunk of n samples::

    cols = im2col(x)                      # (C*KH*KW, n*OH*OW)
    out  = W.reshape(F, C*KH*KW) @ cols   # (F, n*OH*OW)

Backward, with ``dout`` laid out the same way as ``out``::

    dW    = dout @ cols.T                 # (F, C*KH*KW)
    db    = dout.sum over positions       # (F,)
    dcols = W.T @ dout                    # (C*KH*KW, n*OH*OW)
    dx    = col2im(dcols)                 # (n, C, H, W)

A batch whose column matrix would pass ``Conv2d.max_cols_bytes`` runs in
chunks of samples. With one chunk the columns are cached for backward; with
several they are rebuilt in backward, so memory stays bounded by the chunk.
"""

import numpy as np

from nnscratch import init
from nnscratch.kernels import col2im, im2col
from nnscratch.layers.base import (
    Layer,
    check_dtype_matches,
    check_input,
    conv_output_size,
    pair,
)

# Column matrices are built for at most this many bytes at a time.
DEFAULT_MAX_COLS_BYTES = 64 * 2**20


def resolve_padding(padding, kernel_size, stride, name):
    """Return (top, bottom, left, right) padding from an int, pair or string.

    ``"valid"`` is no padding. ``"same"`` keeps H and W at stride 1; an even
    kernel needs one more row and column after the input than before, which
    matches PyTorch's choice.
    """
    KH, KW = kernel_size
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{name}: padding='same' needs stride 1, got stride={stride}; "
                    "give explicit padding for strided convolutions"
                )
            return (KH - 1) // 2, KH // 2, (KW - 1) // 2, KW // 2
        raise ValueError(
            f"{name}: padding must be an int, a pair, 'same' or 'valid', "
            f"got {padding!r}"
        )
    PH, PW = pair(padding, "padding")
    if PH < 0 or PW < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return PH, PH, PW, PW


def conv_geometry(x_shape, kernel_size, stride, pads, name):
    """Return (OH, OW) for an input shape, or raise if the kernel does not fit."""
    N, C, H, W = x_shape
    KH, KW = kernel_size
    SH, SW = stride
    top, bottom, left, right = pads
    if KH > H + top + bottom or KW > W + left + right:
        raise ValueError(
            f"{name}: kernel {KH}x{KW} is larger than the padded input "
            f"{H + top + bottom}x{W + left + right} (input {H}x{W}); "
            "use a larger input, more padding or a smaller kernel"
        )
    OH = conv_output_size(H, KH, SH, top, bottom)
    OW = conv_output_size(W, KW, SW, left, right)
    return OH, OW


def samples_per_chunk(sample_cols_bytes, max_cols_bytes):
    """Return how many samples' columns fit in ``max_cols_bytes`` (at least 1)."""
    return max(1, max_cols_bytes // max(1, sample_cols_bytes))


class Conv2d(Layer):
    """2-D convolution (cross-correlation, no kernel flip) over NCHW input.

    Parameters
    ----------
    in_channels, out_channels : int
        C and F.
    kernel_size, stride : int or pair of int
    padding : int, pair of int, "same" or "valid"
        Zeros added around the input. "same" needs stride 1.
    bias : bool
    dtype : numpy dtype, default float32
    rng : numpy.random.Generator, optional
        Draws the initial weights (PyTorch's default initialisation); the
        library generator (``nnscratch.init.manual_seed``) when omitted.

    Attributes
    ----------
    params : dict
        ``weight`` of shape (F, C, KH, KW) and ``bias`` of shape (F,).

    Notes
    -----
    Output size per side: OH = floor((H + P_top + P_bottom - KH) / SH) + 1.
    Rows and columns past the last full window are ignored, as in PyTorch.
    """

    max_cols_bytes = DEFAULT_MAX_COLS_BYTES

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, bias=True, dtype=np.float32, rng=None):
        super().__init__()
        for label, value in (("in_channels", in_channels),
                             ("out_channels", out_channels)):
            is_count = isinstance(value, (int, np.integer)) and not isinstance(
                value, bool)
            if not is_count or value < 1:
                raise ValueError(
                    f"Conv2d: {label} must be a positive int, got {value!r}"
                )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"Conv2d: kernel_size and stride must be >= 1, got "
                f"kernel_size={kernel_size!r}, stride={stride!r}"
            )
        self.padding = padding
        self.pads = resolve_padding(padding, self.kernel_size, self.stride, "Conv2d")

        shape = (out_channels, in_channels, *self.kernel_size)
        weight, b = init.pytorch_default(shape, rng=rng, dtype=dtype)
        self.params["weight"] = weight
        if bias:
            self.params["bias"] = b

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, bias={'bias' in self.params}")

    def output_shape(self, input_shape):
        OH, OW = conv_geometry(input_shape, self.kernel_size, self.stride,
                               self.pads, "Conv2d")
        return (input_shape[0], self.out_channels, OH, OW)

    def flops(self, input_shape):
        N, F, OH, OW = self.output_shape(input_shape)
        KH, KW = self.kernel_size
        return 2 * N * F * OH * OW * self.in_channels * KH * KW

    def forward(self, x):
        check_input(x, 4, "Conv2d", self)
        weight = self.params["weight"]
        check_dtype_matches(x, weight, "Conv2d")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d expects {self.in_channels} input channels, got "
                f"{x.shape[1]} (input shape {x.shape})"
            )
        out, cache = conv2d_forward(
            x, weight, self.params.get("bias"), self.stride, self.pads,
            self.max_cols_bytes, keep_cols=self.training,
        )
        self._cache = cache
        return out

    def backward(self, dout):
        cache = self._pop_cache()
        dx, dW, db = conv2d_backward(dout, cache)
        self.grads["weight"] = dW
        if db is not None:
            self.grads["bias"] = db
        return dx


def conv2d_forward(x, weight, bias, stride, pads, max_cols_bytes=DEFAULT_MAX_COLS_BYTES,
                   keep_cols=True):
    """Convolve ``x`` with ``weight`` by im2col and GEMM, chunk by chunk.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    weight : ndarray of shape (F, C, KH, KW)
    bias : ndarray of shape (F,) or None
    stride : pair of int
    pads : (top, bottom, left, right)
    max_cols_bytes : int
        Largest column matrix built at once.
    keep_cols : bool
        Cache the columns for backward when the batch fits in one chunk.

    Returns
    -------
    out : ndarray of shape (N, F, OH, OW)
    cache : tuple
        What ``conv2d_backward`` needs.
    """
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    SH, SW = stride
    top, _, left, _ = pads
    OH, OW = conv_geometry(x.shape, (KH, KW), stride, pads, "Conv2d")
    P = OH * OW

    W_matrix = weight.reshape(F, C * KH * KW)
    chunk = samples_per_chunk(C * KH * KW * P * x.itemsize, max_cols_bytes)
    out = np.empty((N, F, OH, OW), dtype=x.dtype)
    cols = None
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        cols = im2col(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW)
        out_chunk = W_matrix @ cols  # (F, n*P)
        out[n0:n1] = out_chunk.reshape(F, n1 - n0, OH, OW).transpose(1, 0, 2, 3)
    if bias is not None:
        out += bias.reshape(1, F, 1, 1)

    cached_cols = cols if keep_cols and chunk >= N else None
    cache = (x, weight, bias is not None, stride, pads, (OH, OW), chunk, cached_cols)
    return out, cache


def conv2d_backward(dout, cache):
    """Return ``(dx, dW, db)`` for ``conv2d_forward``; ``db`` is None without bias.

    Parameters
    ----------
    dout : ndarray of shape (N, F, OH, OW)
    cache : tuple from ``conv2d_forward``
    """
    x, weight, has_bias, stride, pads, (OH, OW), chunk, cached_cols = cache
    N, C, H, W = x.shape
    F, _, KH, KW = weight.shape
    SH, SW = stride
    top, _, left, _ = pads
    if dout.shape != (N, F, OH, OW):
        raise ValueError(
            f"Conv2d.backward expects dout of shape {(N, F, OH, OW)}, "
            f"got {dout.shape}"
        )
    dout = dout.astype(x.dtype, copy=False)

    W_matrix = weight.reshape(F, C * KH * KW)
    dW = np.zeros((F, C * KH * KW), dtype=x.dtype)
    dx = np.empty_like(x)
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        cols = cached_cols
        if cols is None:
            cols = im2col(x[n0:n1], KH, KW, SH, SW, top, left, OH, OW)
        dout_matrix = dout[n0:n1].transpose(1, 0, 2, 3).reshape(F, -1)  # (F, n*P)
        dW += dout_matrix @ cols.T
        dcols = W_matrix.T @ dout_matrix  # (C*KH*KW, n*P)
        dx[n0:n1] = col2im(dcols, n1 - n0, C, H, W, KH, KW, SH, SW, top, left, OH, OW)

    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dW.reshape(weight.shape), db
