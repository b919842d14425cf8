"""Central-difference gradient checks for layers with hand-written backward passes.

A layer is checked through the scalar L(x) = sum(layer.forward(x) * R) with a
fixed random R: its gradient with respect to x is ``layer.backward(R)``, and
with respect to each parameter it is ``layer.grads[key]``. Every check runs in
float64, where a central difference with eps = 1e-6 has a truncation error of
order eps^2 and a rounding error of order 1e-16 * |L| / eps, both far below
the default tolerance of 1e-6.
"""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Estimate the gradient of a scalar function by central differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``. It may also read ``x`` from elsewhere (a layer's
        parameter array), because ``x`` is perturbed in place.
    x : ndarray, float64
        The point; each element is moved by +-eps and restored.
    eps : float
        Step size.

    Returns
    -------
    ndarray of the shape of ``x``, float64
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array, got {x.dtype}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        f_plus = float(f(x))
        x[index] = original - eps
        f_minus = float(f(x))
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric, floor=0.0):
    """Return max|analytic - numeric| / max(max|analytic|, max|numeric|, floor).

    The maximum norm makes one wrong element as visible as a wrong array, and
    dividing by the larger gradient keeps exact zeros (an unused max-pool input)
    from dividing by zero. Two all-zero gradients have error 0. ``floor`` sets
    the smallest scale, for gradients so small that the central difference's
    absolute rounding error dominates them.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"gradient shapes differ: analytic {analytic.shape}, "
            f"numeric {numeric.shape}"
        )
    if analytic.size == 0:
        return 0.0
    scale = max(np.abs(analytic).max(), np.abs(numeric).max(), floor)
    if scale == 0:
        return 0.0
    return float(np.abs(analytic - numeric).max() / scale)


def _parameter_slots(layer):
    """Return ``(name, owner, key)`` for every trainable array of ``layer``.

    ``owner`` is the leaf layer whose ``params[key]`` and ``grads[key]`` hold
    the array and its gradient (the layer itself, or one inside a Sequential).
    """
    if hasattr(layer, "parameters"):
        return [(p.name, p.layer, p.key) for p in layer.parameters()]
    return [(key, layer, key) for key in layer.params]


def check_layer_gradients(layer, x, eps=1e-6, rtol=1e-6, seed=0, before_forward=None):
    """Assert that a layer's backward pass matches central differences.

    Parameters
    ----------
    layer : Layer or Sequential
        With float64 parameters (``layer.astype(np.float64)``).
    x : ndarray, float64
        The input; it is copied, never modified.
    eps : float
        Central-difference step.
    rtol : float
        Largest allowed ``relative_error`` for dx and for each parameter.
    seed : int
        Draws the upstream gradient R (from ``default_rng([seed, 1])``).
    before_forward : callable, optional
        Called before every forward pass, for example to reset a dropout
        layer's generator so each pass uses the same mask.

    Returns
    -------
    dict of str to float
        The relative error of ``"x"`` and of each parameter name.
    """
    if x.dtype != np.float64:
        raise TypeError(f"check_layer_gradients needs float64 input, got {x.dtype}")
    x = x.copy()
    prepare = before_forward or (lambda: None)

    prepare()
    out = layer.forward(x)
    assert out.dtype == np.float64, (
        f"{type(layer).__name__} returned {out.dtype} for float64 input; call "
        "layer.astype(np.float64) before checking gradients"
    )
    # A stream other than default_rng(seed): tests often draw x from ``seed``,
    # and R = x would make the gradient of a normalising layer vanish.
    upstream = np.random.default_rng([seed, 1]).standard_normal(out.shape)
    dx = layer.backward(upstream)
    slots = _parameter_slots(layer)
    analytic = {}
    for name, owner, key in slots:
        assert key in owner.grads, f"backward left no gradient for parameter {name!r}"
        analytic[name] = np.array(owner.grads[key], copy=True)

    def loss(_):
        prepare()
        return float(np.sum(layer.forward(x) * upstream))

    assert dx.shape == x.shape, f"dx has shape {dx.shape}, input has {x.shape}"
    errors = {"x": relative_error(dx, numerical_gradient(loss, x, eps))}
    for name, owner, key in slots:
        weight = owner.params[key]
        assert analytic[name].shape == weight.shape, (
            f"gradient of {name!r} has shape {analytic[name].shape}, the "
            f"parameter has {weight.shape}"
        )
        numeric = numerical_gradient(loss, weight, eps)
        errors[name] = relative_error(analytic[name], numeric)

    for name, error in errors.items():
        assert error < rtol, (
            f"{type(layer).__name__}: gradient of {name!r} has relative error "
            f"{error:.3e} >= {rtol:.1e} against central differences"
        )
    return errors

