"""Classification with localisation: one object per image, its class and box.

The network outputs, per image, the vector::

    y = [pc, bx, by, bh, bw, c1, ..., cK]

pc is 1 when the image contains an object and 0 for background. (bx, by) is the
box centre and (bh, bw) its height and width, all as fractions of the image
with (0, 0) at the top-left corner and (1, 1) at the bottom-right. c1..cK is
the one-hot class. Note the order: height before width, as in the target
of Andrew Ng's course on convolutional networks, which this layout follows.

For background images everything after pc is "don't care", so the loss only
looks at pc there::

    L(yhat, y) = sum_i (yhat_i - y_i)^2    if y_1 = pc = 1
               = (yhat_1 - y_1)^2          if y_1 = 0
"""

import numpy as np


def localization_target(box_cxcyhw, label, num_classes):
    """Build the target vector of one image.

    Parameters
    ----------
    box_cxcyhw : sequence of 4 floats or None
        (bx, by, bh, bw) as fractions of the image, or None for background.
    label : int or None
        Class index in [0, num_classes); ignored for background.
    num_classes : int
        K.

    Returns
    -------
    ndarray of shape (5 + K,), float64
        [1, bx, by, bh, bw, one-hot class] for an object, [0, 0, ..., 0] for
        background.

    Examples
    --------
    >>> localization_target((0.5, 0.7, 0.3, 0.4), 1, 3)
    array([1. , 0.5, 0.7, 0.3, 0.4, 0. , 1. , 0. ])
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(
            f"localization_target: num_classes must be an int, got {num_classes!r}"
        )
    if num_classes < 1:
        raise ValueError(
            f"localization_target: num_classes must be >= 1, got {num_classes}"
        )
    target = np.zeros(5 + num_classes)
    if box_cxcyhw is None:
        return target

    box = np.asarray(box_cxcyhw, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(
            f"localization_target: box_cxcyhw must be 4 finite numbers "
            f"(bx, by, bh, bw), got {box_cxcyhw!r}"
        )
    if label is None or not 0 <= label < num_classes:
        raise ValueError(
            f"localization_target: label must be a class index in "
            f"[0, {num_classes}), got {label!r}"
        )
    target[0] = 1
    target[1:5] = box
    target[5 + int(label)] = 1
    return target


def localization_loss(pred, target):
    """Squared-error loss of classification with localisation, and its gradient.

    Parameters
    ----------
    pred : ndarray of shape (N, 5 + K), float32 or float64
        Network outputs [pc, bx, by, bh, bw, c1..cK] per image, used as they
        are (no activation).
    target : ndarray of shape (N, 5 + K)
        Targets from ``localization_target``; pc must be 0 or 1.

    Returns
    -------
    loss : float
        The per-image loss, summed over components, averaged over the N images.
    dpred : ndarray of shape (N, 5 + K), dtype of ``pred``
        2 (pred - target) / N on the counted components, 0 elsewhere.
    """
    if not isinstance(pred, np.ndarray) or pred.dtype not in (np.float32, np.float64):
        raise TypeError(
            "localization_loss: pred must be a float32 or float64 numpy.ndarray, "
            f"got {getattr(pred, 'dtype', type(pred).__name__)}"
        )
    if pred.ndim != 2 or pred.shape[1] < 6:
        raise ValueError(
            "localization_loss: pred must have shape (N, 5 + K) with K >= 1, got "
            f"{pred.shape}"
        )
    target = np.asarray(target, dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"localization_loss: target shape {target.shape} differs from pred "
            f"shape {pred.shape}"
        )
    pc = target[:, 0]
    if not np.isin(pc, (0, 1)).all():
        raise ValueError(
            "localization_loss: target[:, 0] (pc) must be 0 or 1, got values "
            f"{np.unique(pc)[:5].tolist()}"
        )

    N = pred.shape[0]
    # Every component counts for objects, only pc for background.
    mask = np.ones_like(pred)
    mask[:, 1:] = pc[:, None]
    diff = (pred - target) * mask
    loss = float((diff * diff).sum() / max(N, 1))
    dpred = 2 * diff / max(N, 1)
    return loss, dpred.astype(pred.dtype, copy=False)
