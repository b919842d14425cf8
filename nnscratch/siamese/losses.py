"""Siamese losses on encodings: the triplet loss and the binary (logistic) loss.

Each loss takes encodings, not images, and returns the loss with its gradient
with respect to every encoding it was given. The training loop adds those
gradients per image and runs one backward pass through the shared network.
"""

import numpy as np

from nnscratch.losses import binary_cross_entropy_with_logits

REDUCTIONS = ("mean", "mean_active", "sum")


def _check_encodings(arrays, names, loss):
    first = arrays[0]
    for array, name in zip(arrays, names):
        if not isinstance(array, np.ndarray) or array.dtype not in (np.float32,
                                                                    np.float64):
            raise TypeError(
                f"{loss}: {name} must be a float32 or float64 numpy.ndarray, got "
                f"{getattr(array, 'dtype', type(array).__name__)}"
            )
        if array.ndim != 2 or array.shape != first.shape:
            raise ValueError(
                f"{loss}: {name} must have shape (N, D) equal to {names[0]}'s "
                f"{first.shape}, got {array.shape}"
            )


def _distance_and_gradient(x1, x2, squared):
    """Return d(x1, x2) per row and dd/dx1 (dd/dx2 is its negative)."""
    difference = x1 - x2
    squared_distance = (difference * difference).sum(axis=1)
    if squared:
        return squared_distance, 2 * difference
    distance = np.sqrt(squared_distance)
    # d||u||/du = u / ||u|| has norm 1 away from u = 0; at u = 0 the subgradient
    # 0 is taken, as ReLU does at 0, so the gradient stays finite.
    safe = np.where(distance > 0, distance, 1)
    gradient = np.where((distance > 0)[:, None], difference / safe[:, None], 0)
    return distance, gradient


def triplet_loss(anchor, positive, negative, margin=0.2, squared=True,
                 reduction="mean"):
    """Triplet loss max(d(a, p) - d(a, n) + margin, 0) and its gradients.

    Parameters
    ----------
    anchor, positive, negative : ndarray of shape (T, D), float
        Encodings of T triplets: row i of each is one triplet.
    margin : float
        alpha, the gap required between d(a, n) and d(a, p). It rules out the
        trivial encoding f = 0, whose loss is ``margin`` for every triplet.
    squared : bool
        d(x1, x2) = ||x1 - x2||^2 if True, else ||x1 - x2||. The non-squared
        distance takes the subgradient 0 where x1 = x2.
    reduction : {"mean", "mean_active", "sum"}
        "mean" divides the sum by T. "mean_active" divides it by the number of
        triplets with a positive loss, and gives 0 (not NaN) when none is
        active. "sum" adds the losses.

    Returns
    -------
    loss : float
    gradients : tuple of three ndarray of shape (T, D)
        d loss / d anchor, d loss / d positive, d loss / d negative.

    Notes
    -----
    With the squared distance, an active triplet (positive loss) has::

        d/da = 2 (a - p) - 2 (a - n) = 2 (n - p)
        d/dp = -2 (a - p)
        d/dn =  2 (a - n)

    and an inactive one has zero gradient, including one exactly at the
    margin.

    References
    ----------
    Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face
    Recognition and Clustering", CVPR 2015.
    """
    _check_encodings((anchor, positive, negative), ("anchor", "positive", "negative"),
                     "triplet_loss")
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"triplet_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}"
        )
    if margin < 0:
        raise ValueError(f"triplet_loss: margin must be >= 0, got {margin!r}")

    positive_distance, dpositive_distance = _distance_and_gradient(anchor, positive,
                                                                   squared)
    negative_distance, dnegative_distance = _distance_and_gradient(anchor, negative,
                                                                   squared)
    losses = positive_distance - negative_distance + margin
    active = losses > 0

    if reduction == "sum":
        count = 1
    elif reduction == "mean":
        count = max(1, len(losses))
    else:
        count = max(1, int(active.sum()))
    weight = (active / count).astype(anchor.dtype)[:, None]  # (T, 1)
    loss = float(np.where(active, losses, 0).sum() / count)

    danchor = weight * (dpositive_distance - dnegative_distance)
    dpositive = -weight * dpositive_distance
    dnegative = weight * dnegative_distance
    return loss, (danchor, dpositive, dnegative)


def logistic_pair_loss(x1, x2, same, weight, bias):
    """Binary cross-entropy of yhat = sigmoid(w . |x1 - x2| + b) against same/different.

    Parameters
    ----------
    x1, x2 : ndarray of shape (N, D), float
        Encodings of N pairs.
    same : ndarray of shape (N,), bool or {0, 1}
        1 where the pair shows one identity.
    weight : ndarray of shape (1, D), float
        The pair head's weight (``Linear(D, 1)`` layout).
    bias : ndarray of shape (1,), float

    Returns
    -------
    loss : float
        Mean binary cross-entropy over the N pairs.
    gradients : tuple of four ndarray
        d loss / d x1 and d loss / d x2 of shape (N, D), d loss / d weight of
        shape (1, D) and d loss / d bias of shape (1,).

    Notes
    -----
    With u = x1 - x2 and z = w . |u| + b, the mean cross-entropy gives
    dz = (yhat - same) / N, and then::

        dw = sum_i dz_i |u_i|        db = sum_i dz_i
        dx1 = dz * w * sign(u)       dx2 = -dx1

    sign(0) = 0 is the subgradient of |u| at 0.
    """
    _check_encodings((x1, x2), ("x1", "x2"), "logistic_pair_loss")
    N, D = x1.shape
    same = np.asarray(same)
    if same.shape != (N,):
        raise ValueError(
            f"logistic_pair_loss: same must have shape ({N},), got {same.shape}"
        )
    if np.shape(weight) != (1, D) or np.shape(bias) != (1,):
        raise ValueError(
            f"logistic_pair_loss: weight must have shape (1, {D}) and bias (1,), got "
            f"{np.shape(weight)} and {np.shape(bias)}"
        )

    difference = x1 - x2
    absolute = np.abs(difference)
    logits = absolute @ weight[0] + bias[0]  # (N,)
    loss, dlogits = binary_cross_entropy_with_logits(logits, same.astype(x1.dtype))

    dweight = (dlogits @ absolute)[None, :]  # (1, D)
    dbias = np.array([dlogits.sum()], dtype=x1.dtype)
    dx1 = dlogits[:, None] * weight * np.sign(difference)  # (N, D)
    return loss, (dx1, -dx1, dweight, dbias)
