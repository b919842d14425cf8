"""Numba kernels for the hot loops, each beside a plain NumPy twin.

Every kernel ``name_numba`` has a twin ``name_numpy`` with the same signature
and the same result (exactly, or to float rounding where the summation order
differs); the tests in ``tests/kernels`` hold them equal. Layers call the
public dispatchers (``im2col``, ``col2im``, ...), which pick the Numba version
unless ``NNSCRATCH_KERNELS=numpy`` is set in the environment.

Validation happens in the layers, never here: kernels trust their arguments.
"""

from nnscratch.kernels.activation import (
    leaky_relu_backward,
    leaky_relu_backward_numba,
    leaky_relu_backward_numpy,
    leaky_relu_forward,
    leaky_relu_forward_numba,
    leaky_relu_forward_numpy,
)
from nnscratch.kernels.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_numba,
    batchnorm_backward_numpy,
    batchnorm_forward,
    batchnorm_forward_numba,
    batchnorm_forward_numpy,
    batchnorm_statistics,
    batchnorm_statistics_numba,
    batchnorm_statistics_numpy,
)
from nnscratch.kernels.dispatch import use_numba
from nnscratch.kernels.im2col import (
    col2im,
    col2im_numba,
    col2im_numpy,
    im2col,
    im2col_numba,
    im2col_numpy,
)
from nnscratch.kernels.pool import (
    maxpool_backward,
    maxpool_backward_numba,
    maxpool_backward_numpy,
    maxpool_forward,
    maxpool_forward_numba,
    maxpool_forward_numpy,
)

__all__ = [
    "batchnorm_backward",
    "batchnorm_backward_numba",
    "batchnorm_backward_numpy",
    "batchnorm_forward",
    "batchnorm_forward_numba",
    "batchnorm_forward_numpy",
    "batchnorm_statistics",
    "batchnorm_statistics_numba",
    "batchnorm_statistics_numpy",
    "col2im",
    "col2im_numba",
    "col2im_numpy",
    "im2col",
    "im2col_numba",
    "im2col_numpy",
    "leaky_relu_backward",
    "leaky_relu_backward_numba",
    "leaky_relu_backward_numpy",
    "leaky_relu_forward",
    "leaky_relu_forward_numba",
    "leaky_relu_forward_numpy",
    "maxpool_backward",
    "maxpool_backward_numba",
    "maxpool_backward_numpy",
    "maxpool_forward",
    "maxpool_forward_numba",
    "maxpool_forward_numpy",
    "use_numba",
]

