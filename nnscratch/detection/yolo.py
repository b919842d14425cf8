"""YOLO targets and decoding: boxes on an S x S grid of cells with A anchors.

Conventions, shared by ``yolo_encode``, ``yolo_loss`` and ``yolo_decode``.
Here S is the grid size, not a stride, and a grid may also have GH rows and
GW columns.


- An image of H x W pixels is cut into cells of H / GH by W / GW pixels.
  ``target[row, col, a]`` belongs to the cell in grid row ``row`` (y) and
  column ``col`` (x) and to anchor ``a``.
- Each target vector is ``[pc, bx, by, bh, bw, c1, ..., cK]``: pc = 1 marks an
  object; (bx, by) is the box centre as an offset inside its cell, in [0, 1];
  (bh, bw) are the box height and width in units of the cell size, and may
  exceed 1; c is the one-hot class. Every other entry of an empty slot is 0.
- Anchors are an (A, 2) array of (width, height) in cell units, the same
  unit as bw and bh. To use anchors from ``kmeans_anchors`` on pixel boxes,
  divide their widths by W / GW and their heights by H / GH.
- An object goes to the cell that holds its centre (a centre on the right or
  bottom edge of the image goes to the last cell) and to the anchor whose
  shape has the highest IoU with its own, both centred on one point.
- The network output is NCHW with A * (5 + K) channels: channel
  ``a * (5 + K) + j`` is entry j of anchor a. ``yolo_output_to_grid`` reshapes
  it to (N, GH, GW, A, 5 + K) and ``yolo_grid_to_output`` back.

Parametrisation of the raw outputs (t_o, t_x, t_y, t_h, t_w, t_c1..t_cK) of
one cell and anchor (YOLOv2)::

    pc = sigmoid(t_o)      bx = sigmoid(t_x)      by = sigmoid(t_y)
    bh = anchor_h * exp(t_h)                      bw = anchor_w * exp(t_w)
    class probabilities = softmax(t_c) or sigmoid(t_c), per ``class_activation``

The loss (with its weights) is in ``nnscratch.detection.yolo_loss``.

References
----------
Redmon, Divvala, Girshick and Farhadi, "You Only Look Once: Unified, Real-Time
Object Detection", CVPR 2016.
Redmon and Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017.
"""

import warnings

import numpy as np

from nnscratch.detection.anchors import shape_iou
from nnscratch.detection.boxes import xyxy_boxes
from nnscratch.detection.nms import batched_nms
from nnscratch.layers.activations import sigmoid
from nnscratch.losses import softmax

CLASS_ACTIVATIONS = ("softmax", "sigmoid")

# exp(t) of a raw size output is capped at exp(MAX_LOG_SIZE) = 3.3e6 cells, so
# an untrained network still decodes to finite boxes.
MAX_LOG_SIZE = 15.0


def check_anchors(anchors, function):
    """Return anchors as a float64 (A, 2) array of positive widths and heights."""
    anchors = np.asarray(anchors, dtype=np.float64)
    if anchors.ndim != 2 or anchors.shape[1] != 2 or anchors.shape[0] < 1:
        raise ValueError(
            f"{function}: anchors must have shape (A, 2), (width, height) in cell "
            f"units, got {anchors.shape}"
        )
    if not (np.isfinite(anchors).all() and (anchors > 0).all()):
        raise ValueError(
            f"{function}: anchors must hold finite widths and heights > 0, got "
            f"{anchors.tolist()}"
        )
    return anchors


def _grid_pair(grid_size, function):
    if isinstance(grid_size, (int, np.integer)) and not isinstance(grid_size, bool):
        grid_size = (grid_size, grid_size)
    if (not isinstance(grid_size, (tuple, list)) or len(grid_size) != 2
            or not all(isinstance(g, (int, np.integer)) and g >= 1
                       for g in grid_size)):
        raise ValueError(
            f"{function}: grid_size must be a positive int S or a pair (GH, GW), "
            f"got {grid_size!r}"
        )
    return int(grid_size[0]), int(grid_size[1])


def _image_pair(image_size, function):
    if (np.ndim(image_size) != 1 or len(image_size) != 2
            or not all(np.isfinite(v) and v > 0 for v in image_size)):
        raise ValueError(
            f"{function}: image_size must be (H, W) in pixels, both > 0, got "
            f"{image_size!r}"
        )
    return float(image_size[0]), float(image_size[1])


def yolo_output_to_grid(output, num_anchors):
    """Reshape network output (N, A * (5 + K), GH, GW) to (N, GH, GW, A, 5 + K).

    Returns a view when ``output`` is contiguous.
    """
    if not isinstance(output, np.ndarray) or output.ndim != 4:
        raise ValueError(
            "yolo_output_to_grid: output must be an NCHW array of shape "
            f"(N, A * (5 + K), GH, GW), got {getattr(output, 'shape', output)!r}"
        )
    N, C, GH, GW = output.shape
    if num_anchors < 1 or C % num_anchors or C // num_anchors < 6:
        raise ValueError(
            f"yolo_output_to_grid: {C} channels do not split into num_anchors="
            f"{num_anchors} groups of 5 + K with K >= 1; the last layer needs "
            f"A * (5 + K) output channels"
        )
    depth = C // num_anchors
    grid = output.reshape(N, num_anchors, depth, GH, GW)  # (N, A, 5 + K, GH, GW)
    return grid.transpose(0, 3, 4, 1, 2)  # (N, GH, GW, A, 5 + K)


def yolo_grid_to_output(grid):
    """Reshape (N, GH, GW, A, 5 + K) back to NCHW (N, A * (5 + K), GH, GW)."""
    if not isinstance(grid, np.ndarray) or grid.ndim != 5:
        raise ValueError(
            "yolo_grid_to_output: grid must have shape (N, GH, GW, A, 5 + K), got "
            f"{getattr(grid, 'shape', grid)!r}"
        )
    N, GH, GW, A, depth = grid.shape
    output = grid.transpose(0, 3, 4, 1, 2)  # (N, A, 5 + K, GH, GW)
    return np.ascontiguousarray(output).reshape(N, A * depth, GH, GW)


def yolo_encode(boxes, labels, image_size, grid_size, anchors, num_classes):
    """Build the YOLO target of one image.

    Parameters
    ----------
    boxes : array_like of shape (M, 4)
        Pixel xyxy boxes, each with width > 0 and height > 0 and its centre
        inside the image (the box itself may extend past the border).
    labels : array_like of shape (M,), int
        Class index of each box, in [0, K).
    image_size : pair (H, W)
        Image size in pixels.
    grid_size : int or pair of int
        S for an S x S grid, or (GH, GW).
    anchors : array_like of shape (A, 2)
        Anchor (width, height) in cell units.
    num_classes : int
        K.

    Returns
    -------
    target : ndarray of shape (GH, GW, A, 5 + K), float64
        ``[pc, bx, by, bh, bw, c1..cK]`` per cell and anchor, as in the module
        docstring.
    num_collisions : int
        Objects dropped because an earlier object in ``boxes`` already took
        the same cell and anchor. Each drop also raises a ``UserWarning``.
    """
    function = "yolo_encode"
    boxes = xyxy_boxes(boxes, "boxes", function).astype(np.float64)
    labels = np.asarray(labels)
    anchors = check_anchors(anchors, function)
    GH, GW = _grid_pair(grid_size, function)
    H, W = _image_pair(image_size, function)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"{function}: num_classes must be an int >= 1, got "
                         f"{num_classes!r}")
    _check_labels(labels, boxes.shape[0], num_classes, function)

    cell_w, cell_h = W / GW, H / GH
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 / cell_w  # centres in cell units
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 / cell_h
    bw = (boxes[:, 2] - boxes[:, 0]) / cell_w
    bh = (boxes[:, 3] - boxes[:, 1]) / cell_h
    _check_encodable(boxes, cx, cy, bw, bh, GH, GW, function)

    # A centre exactly on the far edge belongs to the last cell, with offset 1.
    cols = np.minimum(np.floor(cx).astype(np.int64), GW - 1)
    rows = np.minimum(np.floor(cy).astype(np.int64), GH - 1)
    best_anchor = shape_iou(np.stack([bw, bh], axis=1), anchors).argmax(axis=1)

    target = np.zeros((GH, GW, anchors.shape[0], 5 + num_classes))
    num_collisions = 0
    for m in range(boxes.shape[0]):
        slot = target[rows[m], cols[m], best_anchor[m]]
        if slot[0] == 1:
            num_collisions += 1
            warnings.warn(
                f"yolo_encode: boxes[{m}] falls in cell (row {rows[m]}, column "
                f"{cols[m]}) and anchor {best_anchor[m]}, already taken by an "
                "earlier box; it is left out of the target. Use a finer grid or "
                "more anchors",
                UserWarning,
                stacklevel=2,
            )
            continue
        slot[:5] = (1, cx[m] - cols[m], cy[m] - rows[m], bh[m], bw[m])
        slot[5 + labels[m]] = 1
    return target, num_collisions


def _check_labels(labels, num_boxes, num_classes, function):
    if labels.shape != (num_boxes,):
        raise ValueError(
            f"{function}: labels must have shape ({num_boxes},), one per box, got "
            f"{labels.shape}"
        )
    if num_boxes and labels.dtype.kind not in "iu":
        raise TypeError(
            f"{function}: labels must be integer class indices, got dtype "
            f"{labels.dtype}"
        )
    if num_boxes and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{function}: labels must be in [0, {num_classes}), got min "
            f"{labels.min()} and max {labels.max()}"
        )


def _check_encodable(boxes, cx, cy, bw, bh, GH, GW, function):
    degenerate = (bw <= 0) | (bh <= 0)
    if degenerate.any():
        index = int(np.flatnonzero(degenerate)[0])
        raise ValueError(
            f"{function}: boxes[{index}] = {boxes[index].tolist()} has zero width "
            "or height, which has no log-size target; drop it with "
            "remove_small_boxes"
        )
    outside = (cx < 0) | (cx > GW) | (cy < 0) | (cy > GH)
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{function}: the centre of boxes[{index}] = {boxes[index].tolist()} "
            "lies outside the image, so no cell holds it; clip the boxes with "
            "clip_boxes_to_image or drop them"
        )


def _cell_offsets(GH, GW):
    """Return column and row indices broadcastable to (..., GH, GW, A)."""
    cols = np.arange(GW, dtype=np.float64)[None, :, None]  # (1, GW, 1)
    rows = np.arange(GH, dtype=np.float64)[:, None, None]  # (GH, 1, 1)
    return cols, rows


def yolo_decode_targets(target, image_size):
    """Read the objects back out of one target made by ``yolo_encode``.

    Parameters
    ----------
    target : ndarray of shape (GH, GW, A, 5 + K)
    image_size : pair (H, W) in pixels

    Returns
    -------
    dict with
        ``boxes``: ndarray of shape (M, 4), float64, pixel xyxy;
        ``labels``: ndarray of shape (M,), int64;
    in row-major order of (row, column, anchor).
    """
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 4 or target.shape[-1] < 6:
        raise ValueError(
            "yolo_decode_targets: target must have shape (GH, GW, A, 5 + K), got "
            f"{target.shape}"
        )
    GH, GW = target.shape[:2]
    H, W = _image_pair(image_size, "yolo_decode_targets")
    cols, rows = _cell_offsets(GH, GW)
    cols, rows = np.broadcast_arrays(cols, rows, target[..., 0])[:2]  # (GH, GW, A)

    present = target[..., 0] > 0.5
    slots = target[present]  # (M, 5 + K)
    cx = (cols[present] + slots[:, 1]) * (W / GW)
    cy = (rows[present] + slots[:, 2]) * (H / GH)
    h = slots[:, 3] * (H / GH)
    w = slots[:, 4] * (W / GW)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    labels = slots[:, 5:].argmax(axis=1).astype(np.int64)
    return {"boxes": boxes.reshape(-1, 4), "labels": labels}


def class_probabilities(class_logits, class_activation):
    """Turn raw class outputs (..., K) into probabilities (..., K)."""
    if class_activation == "softmax":
        return softmax(class_logits, axis=-1)
    if class_activation == "sigmoid":
        return sigmoid(class_logits)
    raise ValueError(
        f"class_activation must be one of {CLASS_ACTIVATIONS}, got "
        f"{class_activation!r}"
    )


def yolo_decode(output, image_size, anchors, score_threshold=0.6, iou_threshold=0.5,
                class_activation="softmax", inclusive=True, max_detections=None):
    """Turn raw network output into scored boxes, with per-class NMS.

    Each cell and anchor proposes one box of its most probable class, scored
    pc * P(class | object). Proposals scoring below ``score_threshold`` are
    dropped, then ``batched_nms`` keeps one box per object and class.

    Parameters
    ----------
    output : ndarray of shape (N, A * (5 + K), GH, GW), float
        Raw network output, before any activation.
    image_size : pair (H, W)
        Size in pixels of the network input the output came from.
    anchors : array_like of shape (A, 2)
        Anchor (width, height) in cell units.
    score_threshold : float, default 0.6
    iou_threshold : float, default 0.5
    class_activation : {"softmax", "sigmoid"}, default "softmax"
    inclusive : bool, default True
        NMS rule, as in ``nms``.
    max_detections : int, optional
        Keep at most this many of the highest-scoring boxes per image.

    Returns
    -------
    list of N dicts with
        ``boxes``: ndarray of shape (M, 4), float64, pixel xyxy (not clipped
        to the image; see ``clip_boxes_to_image``);
        ``scores``: ndarray of shape (M,), float64, highest first;
        ``labels``: ndarray of shape (M,), int64.
    """
    anchors = check_anchors(anchors, "yolo_decode")
    if not isinstance(output, np.ndarray) or output.dtype.kind != "f":
        raise TypeError(
            "yolo_decode: output must be a float numpy.ndarray, got "
            f"{getattr(output, 'dtype', type(output).__name__)}"
        )
    grid = yolo_output_to_grid(output, anchors.shape[0]).astype(np.float64)
    N, GH, GW, A, _ = grid.shape
    H, W = _image_pair(image_size, "yolo_decode")
    if class_activation not in CLASS_ACTIVATIONS:
        raise ValueError(
            f"yolo_decode: class_activation must be one of {CLASS_ACTIVATIONS}, "
            f"got {class_activation!r}"
        )

    cols, rows = _cell_offsets(GH, GW)
    cx = (cols + sigmoid(grid[..., 1])) * (W / GW)  # (N, GH, GW, A)
    cy = (rows + sigmoid(grid[..., 2])) * (H / GH)
    h = anchors[:, 1] * np.exp(np.minimum(grid[..., 3], MAX_LOG_SIZE)) * (H / GH)
    w = anchors[:, 0] * np.exp(np.minimum(grid[..., 4], MAX_LOG_SIZE)) * (W / GW)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)

    class_scores = sigmoid(grid[..., :1]) * class_probabilities(
        grid[..., 5:], class_activation)  # (N, GH, GW, A, K)
    labels = class_scores.argmax(axis=-1)
    scores = np.take_along_axis(class_scores, labels[..., None], axis=-1)[..., 0]

    detections = []
    for n in range(N):
        image_boxes = boxes[n].reshape(-1, 4)  # (GH * GW * A, 4)
        image_scores = scores[n].reshape(-1)
        image_labels = labels[n].reshape(-1)
        keep = batched_nms(image_boxes, image_scores, image_labels, iou_threshold,
                           score_threshold, inclusive)
        if max_detections is not None:
            keep = keep[:max_detections]
        detections.append({
            "boxes": image_boxes[keep],
            "scores": image_scores[keep],
            "labels": image_labels[keep].astype(np.int64),
        })
    return detections
