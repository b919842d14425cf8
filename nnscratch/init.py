"""Weight initialisers and the library's default random generator.

Each initialiser takes a shape ``(fan_out, fan_in, *kernel)`` as PyTorch lays
out weights, so ``fan_in = shape[1] * prod(kernel)`` and
``fan_out = shape[0] * prod(kernel)``.

References
----------
He, Zhang, Ren and Sun, "Delving Deep into Rectifiers", ICCV 2015.
Glorot and Bengio, "Understanding the difficulty of training deep feedforward
neural networks", AISTATS 2010.
"""

import math

import numpy as np

_default_rng = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the generator that layers use when no ``rng`` is given."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_rng():
    """Return the library's shared generator (see ``manual_seed``)."""
    return _default_rng


def get_rng_state():
    """Return the shared generator's state as a JSON-serialisable dict."""
    return _default_rng.bit_generator.state


def set_rng_state(state):
    """Restore the shared generator's state from ``get_rng_state``."""
    _default_rng.bit_generator.state = state


def fans(shape):
    """Return ``(fan_in, fan_out)`` of a weight of ``shape``."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight of at least 2 dimensions, got {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _gain(nonlinearity, negative_slope=0.0):
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    raise ValueError(
        f"nonlinearity must be relu, leaky_relu, linear, sigmoid or tanh, "
        f"got {nonlinearity!r}"
    )


def kaiming_normal(shape, nonlinearity="relu", negative_slope=0.0, rng=None,
                   dtype=np.float32):
    """Draw N(0, std^2) with std = gain / sqrt(fan_in) (He normal)."""
    rng = rng or _default_rng
    std = _gain(nonlinearity, negative_slope) / math.sqrt(fans(shape)[0])
    return (rng.standard_normal(shape) * std).astype(dtype)


def kaiming_uniform(shape, nonlinearity="relu", negative_slope=0.0, rng=None,
                    dtype=np.float32):
    """Draw U(-b, b) with b = gain * sqrt(3 / fan_in) (He uniform)."""
    rng = rng or _default_rng
    bound = _gain(nonlinearity, negative_slope) * math.sqrt(3.0 / fans(shape)[0])
    return rng.uniform(-bound, bound, shape).astype(dtype)


def glorot_uniform(shape, rng=None, dtype=np.float32):
    """Draw U(-b, b) with b = sqrt(6 / (fan_in + fan_out)) (Glorot/Xavier)."""
    rng = rng or _default_rng
    fan_in, fan_out = fans(shape)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, shape).astype(dtype)


def glorot_normal(shape, rng=None, dtype=np.float32):
    """Draw N(0, std^2) with std = sqrt(2 / (fan_in + fan_out))."""
    rng = rng or _default_rng
    fan_in, fan_out = fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(dtype)


def pytorch_default(shape, rng=None, dtype=np.float32):
    """Draw a weight and a bias as ``torch.nn.Conv2d`` and ``Linear`` do.

    PyTorch uses Kaiming uniform with a = sqrt(5), which works out to
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and the same bound for
    the bias.

    Returns
    -------
    weight : ndarray of ``shape``
    bias : ndarray of shape (shape[0],)
    """
    rng = rng or _default_rng
    bound = 1.0 / math.sqrt(fans(shape)[0])
    weight = rng.uniform(-bound, bound, shape).astype(dtype)
    bias = rng.uniform(-bound, bound, shape[0]).astype(dtype)
    return weight, bias
