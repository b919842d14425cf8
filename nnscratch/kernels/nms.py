"""Greedy non-max suppression over boxes already sorted by descending score.

Both twins walk the boxes in the given order. Each box that is still alive is
kept, and every later alive box of the same class whose IoU with it passes the
threshold is suppressed. "Passes" is ``iou >= iou_threshold`` when
``inclusive`` is true and ``iou > iou_threshold`` otherwise.

The twins compute the IoU with the same float64 operations in the same order::

    w = max(0, min(x2_i, x2_j) - max(x1_i, x1_j))      (h likewise)
    iou = w * h / ((area_i + area_j) - w * h), or 0 when the union is 0

so they agree exactly, including on boxes built to sit on the threshold.
Sorting, score filtering and validation happen in ``nnscratch.detection.nms``.
"""

import numba
import numpy as np

from nnscratch.kernels.dispatch import use_numba


def _greedy_nms_loops(boxes, classes, iou_threshold, inclusive):
    """Run greedy NMS as plain loops; equals ``greedy_nms_numpy`` exactly.

    Parameters
    ----------
    boxes : ndarray of shape (N, 4), float64, C-contiguous
        xyxy boxes sorted by descending score.
    classes : ndarray of shape (N,), int64
        Boxes of different classes never suppress each other.
    iou_threshold : float
    inclusive : bool
        Suppress at ``iou >= iou_threshold`` (True) or ``iou > iou_threshold``.

    Returns
    -------
    ndarray of shape (K,), int64
        Increasing positions of the kept boxes in ``boxes``.
    """
    N = boxes.shape[0]
    areas = np.empty(N, dtype=np.float64)
    for i in range(N):
        areas[i] = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])

    suppressed = np.zeros(N, dtype=np.bool_)
    keep = np.empty(N, dtype=np.int64)
    count = 0
    for i in range(N):
        if suppressed[i]:
            continue
        keep[count] = i
        count += 1
        x1, y1, x2, y2 = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        for j in range(i + 1, N):
            if suppressed[j] or classes[j] != classes[i]:
                continue
            w = max(0.0, min(x2, boxes[j, 2]) - max(x1, boxes[j, 0]))
            h = max(0.0, min(y2, boxes[j, 3]) - max(y1, boxes[j, 1]))
            inter = w * h
            union = (areas[i] + areas[j]) - inter
            iou = inter / union if union > 0.0 else 0.0
            if iou > iou_threshold or (inclusive and iou == iou_threshold):
                suppressed[j] = True
    return keep[:count].copy()


greedy_nms_numba = numba.njit(cache=True)(_greedy_nms_loops)


def greedy_nms_numpy(boxes, classes, iou_threshold, inclusive):
    """NumPy twin of ``greedy_nms_numba``: the classic vectorised greedy NMS.

    Each step keeps the first remaining box, computes its IoU with all the
    remaining boxes in one vector operation and drops those that pass the
    threshold. Same arguments and result as ``greedy_nms_numba``.
    """
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)

    remaining = np.arange(boxes.shape[0])
    keep = []
    while remaining.size:
        i = remaining[0]
        keep.append(i)
        rest = remaining[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        union = (areas[i] + areas[rest]) - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0.0)
        if inclusive:
            overlapping = iou >= iou_threshold
        else:
            overlapping = iou > iou_threshold
        remaining = rest[~(overlapping & (classes[rest] == classes[i]))]
    return np.asarray(keep, dtype=np.int64)


def greedy_nms(boxes, classes, iou_threshold, inclusive):
    """Run greedy NMS on score-sorted float64 boxes; return kept positions."""
    if use_numba() and boxes.shape[0] > 0:
        return greedy_nms_numba(np.ascontiguousarray(boxes), classes,
                                float(iou_threshold), bool(inclusive))
    return greedy_nms_numpy(boxes, classes, iou_threshold, inclusive)
