"""Losses, each returning the mean loss and its gradient with respect to the input.

Every loss averages over the batch (and, for ``mse`` and the binary loss, over
every element), the same reduction as PyTorch's ``reduction="mean"``.
"""

import numpy as np


def _check_float(array, name, loss):
    if not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{loss}: {name} must be a float32 or float64 numpy.ndarray, got "
            f"{getattr(array, 'dtype', type(array).__name__)}"
        )


def log_softmax(logits, axis=1):
    """Compute log(softmax(logits)) by the log-sum-exp trick.

    Subtracting the maximum first keeps the result finite for huge logits.
    """
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits, axis=1):
    """Compute softmax(logits) along ``axis`` without overflow."""
    return np.exp(log_softmax(logits, axis=axis))


def softmax_cross_entropy(logits, target):
    """Softmax cross-entropy between class scores and integer labels.

    Parameters
    ----------
    logits : ndarray of shape (N, K) or (N, K, H, W), float
        Unnormalised class scores (the class axis is 1, as in PyTorch).
    target : ndarray of shape (N,) or (N, H, W), int
        Class indices in [0, K).

    Returns
    -------
    loss : float
        Mean over the N (and H, W) positions of -log softmax(logits)[target].
    dlogits : ndarray of the shape of ``logits``
        (softmax(logits) - one_hot(target)) / number of positions.
    """
    _check_float(logits, "logits", "softmax_cross_entropy")
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(
            f"softmax_cross_entropy: target must hold integer class indices, "
            f"got dtype {target.dtype}"
        )
    expected = (logits.shape[0], *logits.shape[2:])
    if target.shape != expected:
        raise ValueError(
            f"softmax_cross_entropy: target must have shape {expected} for logits "
            f"of shape {logits.shape}, got {target.shape}"
        )
    K = logits.shape[1]
    if target.size and (target.min() < 0 or target.max() >= K):
        raise ValueError(
            f"softmax_cross_entropy: target values must be in [0, {K}), got "
            f"min {target.min()} and max {target.max()}"
        )

    log_probs = log_softmax(logits, axis=1)
    picked = np.take_along_axis(log_probs, np.expand_dims(target, 1), axis=1)
    count = max(1, target.size)  # an empty batch has loss 0, as in mse
    loss = -picked.sum() / count

    dlogits = np.exp(log_probs)
    np.put_along_axis(dlogits, np.expand_dims(target, 1),
                      np.take_along_axis(dlogits, np.expand_dims(target, 1), 1) - 1,
                      axis=1)
    return float(loss), (dlogits / count).astype(logits.dtype)


def binary_cross_entropy_with_logits(logits, target):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1].

    Parameters
    ----------
    logits : ndarray, float
    target : ndarray of the same shape, values in [0, 1]

    Returns
    -------
    loss : float
        Mean of max(z, 0) - z * t + log(1 + exp(-|z|)), the stable form of
        -t log s(z) - (1 - t) log(1 - s(z)).
    dlogits : ndarray of the shape of ``logits``
        (sigmoid(z) - t) / number of elements.
    """
    _check_float(logits, "logits", "binary_cross_entropy_with_logits")
    target = np.asarray(target, dtype=logits.dtype)
    if target.shape != logits.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {target.shape} differs "
            f"from logits shape {logits.shape}"
        )
    if target.size and (target.min() < 0 or target.max() > 1):
        raise ValueError(
            "binary_cross_entropy_with_logits: target values must be in [0, 1], "
            f"got min {target.min()} and max {target.max()}"
        )
    z = logits
    # exp(-|z|) lies in (0, 1], so it cannot overflow, and it serves both the
    # loss and sigmoid(z):
    # sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    e = np.exp(-np.abs(z))
    elementwise = np.maximum(z, 0) - z * target + np.log1p(e)
    probability = np.where(z >= 0, 1.0, e) / (1.0 + e)
    count = max(1, z.size)
    dlogits = (probability - target) / count
    return float(elementwise.sum() / count), dlogits.astype(z.dtype)


def mse(pred, target):
    """Mean squared error.

    Returns
    -------
    loss : float
        mean((pred - target)^2) over every element.
    dpred : ndarray of the shape of ``pred``
        2 (pred - target) / number of elements.
    """
    _check_float(pred, "pred", "mse")
    target = np.asarray(target, dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"mse: target shape {target.shape} differs from pred shape {pred.shape}"
        )
    diff = pred - target
    count = max(1, diff.size)
    return float((diff * diff).sum() / count), (2 * diff / count).astype(pred.dtype)
