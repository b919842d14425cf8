"""Intersection over union of every pair of boxes from two sets.

IoU(A, B) = area(A ∩ B) / area(A ∪ B), with
area(A ∪ B) = area(A) + area(B) - area(A ∩ B). Boxes that only touch at an
edge or a corner have an empty intersection and IoU 0. When the union is empty
(both boxes have zero area) the IoU is defined as 0, never NaN.
"""

import numpy as np

from nnscratch.detection.boxes import xyxy_boxes


def _pairwise_overlap(boxes1, boxes2, low, high):
    """Return the side lengths (N, M) of the pairwise intersection along one axis.

    ``low`` and ``high`` are the column indices of that axis (0 and 2 for x).
    Each operand is a contiguous column, so every ufunc loops over M values at
    a time rather than over pairs of coordinates.
    """
    side = np.minimum(boxes1[:, high, None], boxes2[None, :, high])  # (N, M)
    side -= np.maximum(boxes1[:, low, None], boxes2[None, :, low])
    return np.maximum(side, 0, out=side)


def _pairwise_intersection(boxes1, boxes2):
    """Return (area1 (N,), area2 (M,), intersection (N, M)) of xyxy boxes."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    inter = _pairwise_overlap(boxes1, boxes2, 0, 2)
    inter *= _pairwise_overlap(boxes1, boxes2, 1, 3)
    return area1, area2, inter


def _iou_from_parts(area1, area2, inter):
    """Return inter / union (N, M), and 0 where the union is empty."""
    union = area1[:, None] + area2[None, :]  # (N, M)
    union -= inter
    return union, np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _common_dtype(boxes1, boxes2):
    return np.result_type(boxes1.dtype, boxes2.dtype)


# Rows of boxes1 are processed in blocks of about this many pairs, so the
# (rows, M) temporaries stay in cache. At 1,000 x 1,000 boxes this was about
# twice as fast as one pass over whole (N, M) arrays (2-core VM, 1 thread).
PAIRS_PER_BLOCK = 32768


def _blockwise(pairwise, boxes1, boxes2):
    """Fill an (N, M) array with ``pairwise(rows of boxes1, boxes2)`` by blocks."""
    N, M = boxes1.shape[0], boxes2.shape[0]
    out = np.empty((N, M), dtype=boxes1.dtype)
    rows = max(1, PAIRS_PER_BLOCK // max(M, 1))
    for start in range(0, N, rows):
        out[start : start + rows] = pairwise(boxes1[start : start + rows], boxes2)
    return out


def _iou(boxes1, boxes2):
    area1, area2, inter = _pairwise_intersection(boxes1, boxes2)
    return _iou_from_parts(area1, area2, inter)[1]


def _giou(boxes1, boxes2):
    area1, area2, inter = _pairwise_intersection(boxes1, boxes2)
    union, iou = _iou_from_parts(area1, area2, inter)

    # Sides of the smallest enclosing box, never negative for valid boxes.
    width = np.maximum(boxes1[:, 2, None], boxes2[None, :, 2])  # (n, M)
    width -= np.minimum(boxes1[:, 0, None], boxes2[None, :, 0])
    height = np.maximum(boxes1[:, 3, None], boxes2[None, :, 3])
    height -= np.minimum(boxes1[:, 1, None], boxes2[None, :, 1])
    enclosing = width * height
    penalty = np.divide(enclosing - union, enclosing, out=np.zeros_like(inter),
                        where=enclosing > 0)
    return iou - penalty


def box_iou(boxes1, boxes2):
    """Compute the IoU of every box in ``boxes1`` with every box in ``boxes2``.

    Parameters
    ----------
    boxes1 : array_like of shape (N, 4), xyxy with x1 <= x2, y1 <= y2
    boxes2 : array_like of shape (M, 4), xyxy

    Returns
    -------
    ndarray of shape (N, M)
        Values in [0, 1]; float32 when both inputs are float16 or float32,
        float64 otherwise.

    Raises
    ------
    ValueError
        If a box is inverted (x2 < x1 or y2 < y1) or has a NaN coordinate.

    Notes
    -----
    IoU = inter / (area1 + area2 - inter), and 0 where the union is 0.

    Examples
    --------
    >>> box_iou(np.array([[2.0, 1, 4, 3]]), np.array([[1.0, 2, 3, 4]]))
    array([[0.14285714]])
    """
    boxes1 = xyxy_boxes(boxes1, "boxes1", "box_iou")
    boxes2 = xyxy_boxes(boxes2, "boxes2", "box_iou")
    dtype = _common_dtype(boxes1, boxes2)
    boxes1, boxes2 = boxes1.astype(dtype, copy=False), boxes2.astype(dtype, copy=False)

    return _blockwise(_iou, boxes1, boxes2)


def generalized_box_iou(boxes1, boxes2):
    """Compute the generalised IoU of every pair of boxes from two sets.

    GIoU = IoU - (area(C) - area(A ∪ B)) / area(C), where C is the smallest
    box enclosing both A and B. It lies in [-1, 1]: it equals the IoU when one
    box contains the other and tends to -1 as the boxes move far apart.

    Parameters
    ----------
    boxes1 : array_like of shape (N, 4), xyxy with x1 <= x2, y1 <= y2
    boxes2 : array_like of shape (M, 4), xyxy

    Returns
    -------
    ndarray of shape (N, M)
        float32 when both inputs are float16 or float32, float64 otherwise.

    Notes
    -----
    Where the enclosing box has zero area (two degenerate boxes on one line)
    the penalty term is taken as 0, so GIoU equals the IoU, which is 0.

    References
    ----------
    Rezatofighi, Tsoi, Gwak, Sadeghian, Reid and Savarese, "Generalized
    Intersection over Union: A Metric and A Loss for Bounding Box Regression",
    CVPR 2019.
    """
    boxes1 = xyxy_boxes(boxes1, "boxes1", "generalized_box_iou")
    boxes2 = xyxy_boxes(boxes2, "boxes2", "generalized_box_iou")
    dtype = _common_dtype(boxes1, boxes2)
    boxes1, boxes2 = boxes1.astype(dtype, copy=False), boxes2.astype(dtype, copy=False)

    return _blockwise(_giou, boxes1, boxes2)
