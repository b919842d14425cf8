"""Non-max suppression: keep one box per object, the one with the highest score.

The greedy algorithm, for boxes with scores:

1. drop every box whose score is below ``score_threshold``;
2. while boxes remain, keep the one with the highest score and drop every
   remaining box whose IoU with it is at or above ``iou_threshold``.

``inclusive=True`` suppresses at ``iou >= iou_threshold``, the rule taught
in Andrew Ng's course on convolutional networks. ``inclusive=False``
suppresses at ``iou > iou_threshold``, the rule of torchvision's ``nms`` and
of Darknet, so a box at exactly the threshold survives. Equal scores are
broken by index (the lower index comes first), so the result is
deterministic. IoU is computed in float64 whatever the input dtype.

The loops run in a Numba kernel (``nnscratch.kernels.nms``), or in its
vectorised NumPy twin when ``NNSCRATCH_KERNELS=numpy`` is set.
"""

import numpy as np

from nnscratch.detection.boxes import xyxy_boxes
from nnscratch.kernels.nms import greedy_nms

EMPTY_INDICES = np.zeros(0, dtype=np.int64)


def _check_threshold(value, name, function, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{function}: {name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(
            f"{function}: {name} must be in [{low}, {high}], got {value!r}"
        )


def _check_scores(scores, num_boxes, function):
    scores = np.asarray(scores)
    if scores.dtype.kind not in "iuf":
        raise TypeError(
            f"{function}: scores must be real numbers, got dtype {scores.dtype}"
        )
    if scores.shape != (num_boxes,):
        raise ValueError(
            f"{function}: scores must have shape ({num_boxes},), one per box, got "
            f"{scores.shape}"
        )
    if np.isnan(scores).any():
        index = int(np.flatnonzero(np.isnan(scores))[0])
        raise ValueError(f"{function}: scores[{index}] is NaN")
    return scores.astype(np.float64, copy=False)


def _suppress(boxes, scores, classes, iou_threshold, score_threshold, inclusive):
    """Filter by score, sort, and run the greedy kernel; return original indices."""
    candidates = np.arange(scores.shape[0])
    if score_threshold is not None:
        candidates = np.flatnonzero(scores >= score_threshold)
    if candidates.size == 0:
        return EMPTY_INDICES.copy()

    # A stable sort of the negated scores puts equal scores in index order.
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    sorted_boxes = np.ascontiguousarray(boxes[order], dtype=np.float64)  # (K, 4)
    sorted_classes = np.ascontiguousarray(classes[order], dtype=np.int64)
    kept = greedy_nms(sorted_boxes, sorted_classes, float(iou_threshold),
                      bool(inclusive))
    return order[kept].astype(np.int64)


def nms(boxes, scores, iou_threshold=0.5, score_threshold=0.6, inclusive=True):
    """Select boxes by greedy non-max suppression.

    Parameters
    ----------
    boxes : array_like of shape (N, 4), xyxy with x1 <= x2, y1 <= y2
    scores : array_like of shape (N,), float
    iou_threshold : float in [0, 1], default 0.5
        A box whose IoU with a kept, higher-scoring box reaches this value is
        suppressed.
    score_threshold : float or None, default 0.6
        Boxes scoring below it are dropped first (they are kept at exactly
        the threshold). None keeps every box.
    inclusive : bool, default True
        Suppress at ``iou >= iou_threshold`` (True, the rule of Ng's course)
        or at ``iou > iou_threshold`` (False, torchvision's and Darknet's rule).

    Returns
    -------
    ndarray of shape (K,), int64
        Indices into ``boxes`` of the kept boxes, highest score first, equal
        scores in index order. Empty when no box passes the score threshold.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 2, 2], [0, 0, 2, 1], [5, 5, 6, 6]])
    >>> nms(boxes, np.array([0.9, 0.8, 0.7]))
    array([0, 2])
    >>> nms(boxes, np.array([0.9, 0.8, 0.7]), inclusive=False)
    array([0, 1, 2])
    """
    boxes = xyxy_boxes(boxes, "boxes", "nms")
    scores = _check_scores(scores, boxes.shape[0], "nms")
    _check_threshold(iou_threshold, "iou_threshold", "nms", 0, 1)
    if score_threshold is not None:
        _check_threshold(score_threshold, "score_threshold", "nms", -np.inf, np.inf)
    classes = np.zeros(boxes.shape[0], dtype=np.int64)
    return _suppress(boxes, scores, classes, iou_threshold, score_threshold,
                     inclusive)


def batched_nms(boxes, scores, classes, iou_threshold=0.5, score_threshold=0.6,
                inclusive=True):
    """Run non-max suppression separately for each class, in one pass.

    A box only suppresses boxes of its own class, so a car and a pedestrian
    that overlap are both kept. The result equals running ``nms`` on each class
    and merging the kept indices by descending score.

    Parameters
    ----------
    boxes : array_like of shape (N, 4), xyxy with x1 <= x2, y1 <= y2
    scores : array_like of shape (N,), float
    classes : array_like of shape (N,), int
        Class index of each box.
    iou_threshold, score_threshold, inclusive
        As in ``nms``.

    Returns
    -------
    ndarray of shape (K,), int64
        Indices into ``boxes`` of the kept boxes of every class, highest score
        first, equal scores in index order.
    """
    boxes = xyxy_boxes(boxes, "boxes", "batched_nms")
    scores = _check_scores(scores, boxes.shape[0], "batched_nms")
    classes = np.asarray(classes)
    if classes.shape != (boxes.shape[0],):
        raise ValueError(
            f"batched_nms: classes must have shape ({boxes.shape[0]},), one per "
            f"box, got {classes.shape}"
        )
    if classes.size and classes.dtype.kind not in "iub":
        raise TypeError(
            f"batched_nms: classes must be integer class indices, got dtype "
            f"{classes.dtype}; convert with classes.astype(np.int64)"
        )
    _check_threshold(iou_threshold, "iou_threshold", "batched_nms", 0, 1)
    if score_threshold is not None:
        _check_threshold(score_threshold, "score_threshold", "batched_nms",
                         -np.inf, np.inf)
    return _suppress(boxes, scores, classes.astype(np.int64), iou_threshold,
                     score_threshold, inclusive)
