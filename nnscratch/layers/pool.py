"""Max, average and global average pooling over each channel separately."""

import numpy as np

from nnscratch.kernels import col2im, im2col, maxpool_backward, maxpool_forward
from nnscratch.layers.base import Layer, check_input, pair
from nnscratch.layers.conv import conv_geometry


class _Pool2d(Layer):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(
                f"{name}: kernel_size and stride must be >= 1, got "
                f"kernel_size={kernel_size!r}, stride={stride!r}"
            )
        KH, KW = self.kernel_size
        PH, PW = self.padding
        if not (0 <= PH <= KH // 2 and 0 <= PW <= KW // 2):
            raise ValueError(
                f"{name}: padding must be between 0 and kernel_size // 2 so that "
                f"every window holds a real pixel, got padding={padding!r} for "
                f"kernel_size={kernel_size!r}"
            )
        PH, PW = self.padding
        self.pads = (PH, PH, PW, PW)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")

    def output_shape(self, input_shape):
        OH, OW = conv_geometry(input_shape, self.kernel_size, self.stride,
                               self.pads, type(self).__name__)
        return (*input_shape[:2], OH, OW)

    def flops(self, input_shape):
        KH, KW = self.kernel_size
        return int(np.prod(self.output_shape(input_shape))) * KH * KW

    def _geometry(self, x):
        check_input(x, 4, type(self).__name__, self)
        return conv_geometry(x.shape, self.kernel_size, self.stride, self.pads,
                             type(self).__name__)


class MaxPool2d(_Pool2d):
    """Max pooling; each window's gradient goes to one element.

    Parameters
    ----------
    kernel_size : int or pair of int
    stride : int or pair of int, optional
        Defaults to ``kernel_size``. Smaller than the kernel gives overlapping
        windows.
    padding : int or pair of int
        Implicit -inf padding, at most ``kernel_size // 2``.

    Notes
    -----
    Tie rule: within a window, the first maximum in row-major order (top row
    first, left to right) receives the whole gradient; later equal values get
    none. PyTorch's CPU kernel follows the same rule. Where overlapping
    windows share a winner, that element receives the sum of their gradients.
    """

    def forward(self, x):
        OH, OW = self._geometry(x)
        KH, KW = self.kernel_size
        SH, SW = self.stride
        PH, PW = self.padding
        out, argmax = maxpool_forward(x, KH, KW, SH, SW, PH, PW, OH, OW)
        self._cache = (x.shape, argmax)
        return out

    def backward(self, dout):
        (N, C, H, W), argmax = self._pop_cache()
        if dout.shape != argmax.shape:
            raise ValueError(
                f"MaxPool2d.backward expects dout of shape {argmax.shape}, "
                f"got {dout.shape}"
            )
        return maxpool_backward(dout, argmax, H, W)


class AvgPool2d(_Pool2d):
    """Average pooling; zero padding counts in the average, as in PyTorch's
    default (``count_include_pad=True``).

    Each channel is pooled as its own one-channel image: im2col with a
    ``KH x KW`` kernel puts every window in a column, whose mean is the output.
    """

    def forward(self, x):
        OH, OW = self._geometry(x)
        N, C, H, W = x.shape
        KH, KW = self.kernel_size
        SH, SW = self.stride
        PH, PW = self.padding
        planes = x.reshape(N * C, 1, H, W)
        cols = im2col(planes, KH, KW, SH, SW, PH, PW, OH, OW)  # (KH*KW, N*C*OH*OW)
        self._cache = (x.shape, (OH, OW))
        return cols.mean(axis=0).reshape(N, C, OH, OW).astype(x.dtype, copy=False)

    def backward(self, dout):
        (N, C, H, W), (OH, OW) = self._pop_cache()
        if dout.shape != (N, C, OH, OW):
            raise ValueError(
                f"AvgPool2d.backward expects dout of shape {(N, C, OH, OW)}, "
                f"got {dout.shape}"
            )
        KH, KW = self.kernel_size
        SH, SW = self.stride
        PH, PW = self.padding
        share = (dout / (KH * KW)).reshape(1, -1)  # (1, N*C*OH*OW)
        dcols = np.broadcast_to(share, (KH * KW, share.shape[1]))
        dx = col2im(np.ascontiguousarray(dcols), N * C, 1, H, W, KH, KW, SH, SW,
                    PH, PW, OH, OW)
        return dx.reshape(N, C, H, W)


class GlobalAvgPool2d(Layer):
    """Average each channel over all positions: (N, C, H, W) -> (N, C, 1, 1)."""

    def forward(self, x):
        check_input(x, 4, "GlobalAvgPool2d", self)
        self._cache = x.shape
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, dout):
        N, C, H, W = self._pop_cache()
        if dout.shape != (N, C, 1, 1):
            raise ValueError(
                f"GlobalAvgPool2d.backward expects dout of shape {(N, C, 1, 1)}, "
                f"got {dout.shape}"
            )
        return np.broadcast_to(dout / (H * W), (N, C, H, W)).copy()

    def output_shape(self, input_shape):
        return (*input_shape[:2], 1, 1)

    def flops(self, input_shape):
        return int(np.prod(input_shape))
