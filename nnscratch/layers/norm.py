"""Batch normalisation over the channels of NCHW input."""

import numpy as np

from nnscratch.kernels.batchnorm import (
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_statistics,
)
from nnscratch.layers.base import Layer, check_dout, check_dtype_matches, check_input


class BatchNorm2d(Layer):
    """Normalise each channel by its batch statistics, then scale and shift.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance before the square root.
    momentum : float
        Weight of the new batch in the running statistics:
        ``running = (1 - momentum) * running + momentum * batch``.
    dtype : numpy dtype, default float32

    Notes
    -----
    Train mode normalises with the batch mean and the biased variance (divide
    by m = N * H * W) and updates ``running_var`` with the unbiased one
    (divide by m - 1), as PyTorch does. Eval mode uses the running statistics.
    With x_hat = (x - mean) / sqrt(var + eps), the backward pass is::

        dx = (gamma / sqrt(var + eps)) / m
             * (m * dx_hat_term - sum(dout) - x_hat * sum(dout * x_hat))

    where dx_hat_term = dout per element. The arithmetic lives in
    ``nnscratch.kernels.batchnorm``; the backward pass recomputes x_hat from
    the cached input rather than keeping a second tensor of its size.

    References
    ----------
    Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network
    Training by Reducing Internal Covariate Shift", ICML 2015.
    """

    # PyTorch counts batches for momentum=None (a cumulative average), which
    # this layer does not offer.
    ignored_state_keys = ("num_batches_tracked",)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        if (not isinstance(num_features, (int, np.integer))
                or isinstance(num_features, bool) or num_features < 1):
            raise ValueError(
                "BatchNorm2d: num_features must be a positive int, got "
                f"{num_features!r}"
            )
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.params["weight"] = np.ones(num_features, dtype=dtype)
        self.params["bias"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(num_features, dtype=dtype)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def flops(self, input_shape):
        return 4 * int(np.prod(input_shape))

    def forward(self, x):
        check_input(x, 4, "BatchNorm2d", self)
        gamma, beta = self.params["weight"], self.params["bias"]
        check_dtype_matches(x, gamma, "BatchNorm2d")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d expects {self.num_features} channels, got "
                f"{x.shape[1]} (input shape {x.shape})"
            )

        if self.training:
            m = x.shape[0] * x.shape[2] * x.shape[3]
            if m < 2:
                raise ValueError(
                    "BatchNorm2d in train mode needs more than one value per "
                    f"channel, got input shape {x.shape}; use a larger batch "
                    "or call eval()"
                )
            mean, var = batchnorm_statistics(x)  # float64
            momentum = self.momentum
            self.buffers["running_mean"] = (
                (1 - momentum) * self.buffers["running_mean"] + momentum * mean
            ).astype(x.dtype)
            self.buffers["running_var"] = (
                (1 - momentum) * self.buffers["running_var"]
                + momentum * var * m / (m - 1)
            ).astype(x.dtype)
        else:
            mean = self.buffers["running_mean"]
            var = self.buffers["running_var"]

        mean = mean.astype(x.dtype)
        inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype)
        self._cache = (x, mean, inv_std, self.training)
        return batchnorm_forward(x, mean, inv_std, gamma, beta)

    def backward(self, dout):
        x, mean, inv_std, used_batch_stats = self._pop_cache()
        check_dout(dout, x.shape, "BatchNorm2d")
        dx, self.grads["weight"], self.grads["bias"] = batchnorm_backward(
            dout, x, mean, inv_std, self.params["weight"], used_batch_stats)
        return dx
