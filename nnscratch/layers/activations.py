"""Element-wise non-linearities, each with its local derivative beside it."""

import numpy as np

from nnscratch.kernels.activation import leaky_relu_backward, leaky_relu_forward
from nnscratch.layers.base import Layer, check_dout


def _check_array(x, name):
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} expects a float32 or float64 numpy.ndarray, got "
            f"{getattr(x, 'dtype', type(x).__name__)}"
        )


class _Elementwise(Layer):
    def flops(self, input_shape):
        return int(np.prod(input_shape))


class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope * x otherwise. The derivative at 0 is the
    slope, as in PyTorch.

    The layer keeps its input for the backward pass, because the local
    derivative is 1 where x > 0 and the slope elsewhere
    (``nnscratch.kernels.activation``).
    """

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        _check_array(x, type(self).__name__)
        self._cache = x
        return leaky_relu_forward(x, self.negative_slope)

    def backward(self, dout):
        x = self._pop_cache()
        check_dout(dout, x.shape, type(self).__name__)
        return leaky_relu_backward(dout, x, self.negative_slope)


class ReLU(LeakyReLU):
    """max(x, 0): a leaky rectifier with slope 0. The derivative at 0 is 0,
    as in PyTorch, and the output is never -0.0."""

    def __init__(self):
        super().__init__(negative_slope=0.0)

    def extra_repr(self):
        return ""


def sigmoid(x):
    """Compute 1 / (1 + exp(-x)) without overflow for large |x|.

    With e = exp(-|x|), which lies in (0, 1], sigmoid(x) is 1 / (1 + e) for
    x >= 0 and e / (1 + e) for x < 0. So exp cannot overflow, and small
    results keep their relative precision, which 1 - sigmoid(-x) would lose.
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    reciprocal = 1 / (1 + e)
    return np.where(x >= 0, reciprocal, e * reciprocal).astype(x.dtype, copy=False)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)); derivative s (1 - s)."""

    def forward(self, x):
        _check_array(x, "Sigmoid")
        out = sigmoid(x)
        self._cache = out
        return out

    def backward(self, dout):
        out = self._pop_cache()
        check_dout(dout, out.shape, "Sigmoid")
        return dout * out * (1 - out)


class Tanh(_Elementwise):
    """tanh(x); derivative 1 - tanh(x)^2."""

    def forward(self, x):
        _check_array(x, "Tanh")
        out = np.tanh(x)
        self._cache = out
        return out

    def backward(self, dout):
        out = self._pop_cache()
        check_dout(dout, out.shape, "Tanh")
        return dout * (1 - out * out)
