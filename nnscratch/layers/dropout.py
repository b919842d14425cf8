"""Inverted dropout: scale at train time so eval mode is the identity."""

import numpy as np

from nnscratch import init
from nnscratch.layers.base import Layer, check_dout


class Dropout(Layer):
    """Zero each element with probability ``p`` in train mode, scale the rest
    by 1 / (1 - p); identity in eval mode.

    Parameters
    ----------
    p : float in [0, 1)
    rng : numpy.random.Generator, optional
        Draws the masks; the library generator when omitted.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = rng

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.float64):
            raise TypeError(
                "Dropout expects a float32 or float64 numpy.ndarray, got "
                f"{getattr(x, 'dtype', type(x).__name__)}; convert with "
                "x.astype(np.float32)"
            )
        if not self.training or self.p == 0:
            self._cache = (x.shape, None)  # the identity: no mask
            return x
        rng = self.rng or init.default_rng()
        keep = rng.random(x.shape) >= self.p
        mask = (keep / (1 - self.p)).astype(x.dtype)
        self._cache = (x.shape, mask)
        return x * mask

    def backward(self, dout):
        shape, mask = self._pop_cache()
        check_dout(dout, shape, "Dropout")
        return dout.copy() if mask is None else dout * mask
