"""Intersection over union of every pair of boxes from two sets.

IoU(A, B) = area(A ∩ B) / area(A ∪ B), with
area(A ∪ B) = area(A) + area(B) - area(A ∩ B). Boxes that only touch at an
edge or a corner have an empty intersection and IoU 0. When the union is empty
(both boxes have zero area) the IoU is defined as 0, never NaN.
"""

import numpy as np

from nnscratch.detection.boxes import xyxy_boxes


def _pairwise_intersection(boxes1, boxes2):
    """Return (area1 (N,), area2 (M,), intersection (N, M)) of xyxy boxes."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])

    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    sides = np.maximum(bottom_right - top_left, 0)  # (N, M, 2)
    return area1, area2, sides[..., 0] * sides[..., 1]


def _common_dtype(boxes1, boxes2):
    return np.result_type(boxes1.dtype, boxes2.dtype)


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

    area1, area2, inter = _pairwise_intersection(boxes1, boxes2)
    union = area1[:, None] + area2[None, :] - inter  # (N, M)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def generalized_box_iou(boxes1, boxes2):
    """Compute the generalised IoU of every pair of boxes from two sets.

    GIoU = IoU - (area(C) - area(A ∪ B)) / area(C), where C is the smallest
    box enclosing both A and B. It lies in [-1, 1]: it equals the IoU when one
    box holds the other and tends to -1 as the boxes move far apart.

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

    area1, area2, inter = _pairwise_intersection(boxes1, boxes2)
    union = area1[:, None] + area2[None, :] - inter  # (N, M)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    top_left = np.minimum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = np.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    sides = bottom_right - top_left  # (N, M, 2), never negative for valid boxes
    enclosing = sides[..., 0] * sides[..., 1]
    penalty = np.divide(enclosing - union, enclosing, out=np.zeros_like(inter),
                        where=enclosing > 0)
    return iou - penalty
