"""Fully connected layer, computed as a 1x1 convolution on a 1x1 image."""

import math

import numpy as np

from nnscratch import init
from nnscratch.layers.base import Layer, check_dout, check_dtype_matches, check_input
from nnscratch.layers.conv import conv2d_backward, conv2d_forward


class Linear(Layer):
    """y = x W^T + b, run on the convolution path.

    A fully connected layer is a convolution whose kernel covers the whole
    input: here the input (N, in_features) is viewed as (N, in_features, 1, 1)
    and the weight (out, in) as (out, in, 1, 1), so forward and backward are
    the same im2col + GEMM code as ``Conv2d``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype : numpy dtype, default float32
    rng : numpy.random.Generator, optional

    Attributes
    ----------
    params : dict
        ``weight`` of shape (out_features, in_features), ``bias`` of shape
        (out_features,).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32,
                 rng=None):
        super().__init__()
        for label, value in (("in_features", in_features),
                             ("out_features", out_features)):
            is_count = isinstance(value, (int, np.integer)) and not isinstance(
                value, bool)
            if not is_count or value < 1:
                raise ValueError(
                    f"Linear: {label} must be a positive int, got {value!r}"
                )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        weight, b = init.pytorch_default((out_features, in_features), rng=rng,
                                         dtype=dtype)
        self.params["weight"] = weight
        if bias:
            self.params["bias"] = b

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={'bias' in self.params}")

    def output_shape(self, input_shape):
        return (input_shape[0], self.out_features)

    def flops(self, input_shape):
        return 2 * input_shape[0] * self.in_features * self.out_features

    def forward(self, x):
        check_input(x, 2, "Linear", self)
        weight = self.params["weight"]
        check_dtype_matches(x, weight, "Linear")
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear expects {self.in_features} input features, got "
                f"{x.shape[1]} (input shape {x.shape}); check the Flatten size"
            )
        x4 = x.reshape(*x.shape, 1, 1)
        w4 = weight.reshape(*weight.shape, 1, 1)
        out, cache = conv2d_forward(x4, w4, self.params.get("bias"), (1, 1),
                                    (0, 0, 0, 0))
        self._cache = cache
        return out.reshape(x.shape[0], self.out_features)

    def backward(self, dout):
        cache = self._pop_cache()
        check_dout(dout, (cache[0].shape[0], self.out_features), "Linear")
        dx, dW, db = conv2d_backward(dout.reshape(*dout.shape, 1, 1), cache)
        self.grads["weight"] = dW.reshape(self.params["weight"].shape)
        if db is not None:
            self.grads["bias"] = db
        return dx.reshape(dx.shape[0], self.in_features)


class Flatten(Layer):
    """Reshape (N, C, H, W) to (N, C * H * W), in C-order as PyTorch does."""

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"Flatten expects a numpy.ndarray, got {type(x).__name__}"
            )
        if x.ndim < 2:
            raise ValueError(
                f"Flatten expects an array with a batch axis, got shape {x.shape}"
            )
        self._cache = x.shape
        # An explicit size, because -1 cannot be inferred for an empty batch.
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # (N, C*H*W)

    def backward(self, dout):
        shape = self._pop_cache()
        check_dout(dout, self.output_shape(shape), "Flatten")
        return dout.reshape(shape)

    def output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))
