"""The YOLO loss on raw network outputs, with its gradient.

Targets follow ``nnscratch.detection.yolo`` (``[pc, bx, by, bh, bw, c]`` per
cell and anchor, sizes in cell units, anchors (A, 2) as (width, height) in
cell units). With p = sigmoid(t_o), 1obj the slots whose target has pc = 1 and
1noobj the others, the loss of a batch of N images is::

    L = 1/N * sum over cells and anchors of
          lambda_obj   * 1obj   * (p - 1)^2
        + lambda_noobj * 1noobj * p^2
        + lambda_coord * 1obj   * [(sigmoid(t_x) - bx)^2 + (sigmoid(t_y) - by)^2]
        + lambda_coord * 1obj   * [(t_h - log(bh / anchor_h))^2
                                   + (t_w - log(bw / anchor_w))^2]
        + lambda_class * 1obj   * class_loss(t_c, c)

class_loss is the cross-entropy of softmax(t_c) with the one-hot class
(``class_activation="softmax"``), or the sum over classes of the binary
cross-entropy of sigmoid(t_c) (``"sigmoid"``, for multi-label data).

With ``ignore_iou`` set (YOLOv2 uses 0.6), a slot without an object whose
predicted box already overlaps some object of its image with IoU above
``ignore_iou`` is left out of 1noobj as well. Such a slot sits next to the
object's own slot (the neighbouring cell, or an anchor of similar shape) and
has nearly the same features, so pushing its p to 0 would also pull the
object's own score down. The mask is computed from the current predictions and
treated as a constant, as in YOLOv2, so the gradient below does not change.

The default weights lambda_coord = 5 and lambda_noobj = 0.5 are YOLOv1's: most
slots hold no object, so their objectness errors are damped, and box errors
are boosted. Objectness and offsets use squared error, as the loss of
classification with localisation does (``localization_loss``). Sizes are
regressed in log space relative to the anchor, as in YOLOv2, which makes an
error of 10% cost the same for a small box and a large one.

Derivatives used below, with s = sigmoid(t) and ds/dt = s (1 - s)::

    d/dt_o   = [2 lambda_obj (s - 1) 1obj + 2 lambda_noobj s 1noobj] s (1 - s)
    d/dt_x   = 2 lambda_coord (s - bx) s (1 - s) 1obj      (t_y likewise)
    d/dt_w   = 2 lambda_coord (t_w - log(bw / anchor_w)) 1obj   (t_h likewise)
    d/dt_c   = lambda_class (softmax(t_c) sum(c) - c) 1obj      (softmax)
             = lambda_class (sigmoid(t_c) - c) 1obj             (sigmoid)

each divided by N.
"""

import numpy as np

from nnscratch.detection.iou import box_iou
from nnscratch.detection.yolo import (
    CLASS_ACTIVATIONS,
    check_anchors,
    yolo_grid_to_output,
    yolo_output_to_grid,
)
from nnscratch.layers.activations import sigmoid
from nnscratch.losses import log_softmax


def _check_inputs(output, target, anchors, class_activation):
    if not isinstance(output, np.ndarray) or output.dtype not in (np.float32,
                                                                  np.float64):
        raise TypeError(
            "yolo_loss: output must be a float32 or float64 numpy.ndarray, got "
            f"{getattr(output, 'dtype', type(output).__name__)}"
        )
    anchors = check_anchors(anchors, "yolo_loss")
    grid = yolo_output_to_grid(output, anchors.shape[0])
    target = np.asarray(target, dtype=np.float64)
    if target.shape != grid.shape:
        raise ValueError(
            f"yolo_loss: target must have shape (N, GH, GW, A, 5 + K) = "
            f"{grid.shape} to match output {output.shape}, got {target.shape}; "
            "stack the per-image targets of yolo_encode along a new first axis"
        )
    if not np.isin(target[..., 0], (0, 1)).all():
        raise ValueError("yolo_loss: target pc (entry 0) must be 0 or 1")
    obj = target[..., 0] == 1
    if (target[..., 3:5][obj] <= 0).any():
        raise ValueError(
            "yolo_loss: every object needs bh > 0 and bw > 0 in its target"
        )
    if class_activation not in CLASS_ACTIVATIONS:
        raise ValueError(
            f"yolo_loss: class_activation must be one of {CLASS_ACTIVATIONS}, got "
            f"{class_activation!r}"
        )
    return grid, target, anchors, obj


def yolo_loss_terms(output, target, anchors, lambda_coord=5.0, lambda_noobj=0.5,
                    lambda_obj=1.0, lambda_class=1.0, class_activation="softmax",
                    ignore_iou=None):
    """Compute each term of the YOLO loss and the gradient of their sum.

    Arguments as in ``yolo_loss``.

    Returns
    -------
    terms : dict of str to float
        ``"object"``, ``"no_object"``, ``"xy"``, ``"size"`` and ``"class"``,
        weighted and averaged over the batch; they sum to the loss.
    doutput : ndarray of the shape and dtype of ``output``
    """
    grid, target, anchors, obj = _check_inputs(output, target, anchors,
                                               class_activation)
    N = max(output.shape[0], 1)
    t = grid.astype(np.float64)  # (N, GH, GW, A, 5 + K)
    obj_f = obj.astype(np.float64)  # (N, GH, GW, A)
    noobj_f = 1.0 - obj_f
    if ignore_iou is not None:
        noobj_f[overlaps_an_object(t, target, anchors, obj, ignore_iou)] = 0.0
    dgrid = np.zeros_like(t)
    terms = {}

    p = sigmoid(t[..., 0])
    terms["object"] = lambda_obj * float((obj_f * (p - 1) ** 2).sum())
    terms["no_object"] = lambda_noobj * float((noobj_f * p**2).sum())
    dp = 2 * lambda_obj * (p - 1) * obj_f + 2 * lambda_noobj * p * noobj_f
    dgrid[..., 0] = dp * p * (1 - p)

    offsets = sigmoid(t[..., 1:3])  # (N, GH, GW, A, 2)
    offset_error = (offsets - target[..., 1:3]) * obj_f[..., None]
    terms["xy"] = lambda_coord * float((offset_error**2).sum())
    dgrid[..., 1:3] = 2 * lambda_coord * offset_error * offsets * (1 - offsets)

    # Targets (bh, bw) over anchors (height, width); empty slots get log(1) = 0,
    # which the mask then ignores.
    anchor_hw = anchors[:, ::-1]  # (A, 2) as (height, width)
    sizes = np.where(obj[..., None], target[..., 3:5], anchor_hw)
    size_error = (t[..., 3:5] - np.log(sizes / anchor_hw)) * obj_f[..., None]
    terms["size"] = lambda_coord * float((size_error**2).sum())
    dgrid[..., 3:5] = 2 * lambda_coord * size_error

    class_loss, dclass = _class_term(t[..., 5:], target[..., 5:], class_activation)
    terms["class"] = lambda_class * float((class_loss * obj_f).sum())
    dgrid[..., 5:] = lambda_class * dclass * obj_f[..., None]

    terms = {name: value / N for name, value in terms.items()}
    doutput = yolo_grid_to_output(dgrid / N).astype(output.dtype, copy=False)
    return terms, doutput


def overlaps_an_object(grid, target, anchors, obj, ignore_iou):
    """Find the slots whose predicted box overlaps an object of their image.

    Parameters
    ----------
    grid : ndarray of shape (N, GH, GW, A, 5 + K)
        Raw outputs, arranged by ``yolo_output_to_grid``.
    target : ndarray of the same shape
    anchors : ndarray of shape (A, 2)
        Anchor (width, height) in cell units.
    obj : ndarray of shape (N, GH, GW, A), bool
        The object slots of ``target``.
    ignore_iou : float
        IoU above which a prediction counts as overlapping an object.

    Returns
    -------
    ndarray of shape (N, GH, GW, A), bool
        True for the slots whose predicted box has IoU above ``ignore_iou``
        with at least one object box of the same image.
    """
    if not 0.0 < ignore_iou < 1.0:
        raise ValueError(
            f"yolo_loss: ignore_iou must lie in (0, 1), got {ignore_iou!r}; "
            "YOLOv2 uses 0.6, and None turns the rule off"
        )
    n, gh, gw, a = obj.shape
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    cells = np.stack([cols, rows], axis=-1)[None, :, :, None, :]  # (1, GH, GW, 1, 2)

    # Predicted boxes in cell units. Clipping the log-sizes only guards exp
    # against overflow on wild early outputs, and no gradient flows through here.
    centres = cells + sigmoid(grid[..., 1:3])
    sizes = anchors[:, ::-1] * np.exp(np.clip(grid[..., 3:5], -10.0, 10.0))
    predicted = _corners(centres, sizes).reshape(n, -1, 4)
    truth_centres = cells + target[..., 1:3]
    truths = _corners(truth_centres, target[..., 3:5])

    overlapping = np.zeros((n, gh * gw * a), dtype=bool)
    for image in range(n):
        objects = truths[image][obj[image]]
        if len(objects):
            overlapping[image] = box_iou(predicted[image], objects).max(axis=1) > ignore_iou
    return overlapping.reshape(obj.shape)


def _corners(centres, sizes):
    """Return xyxy boxes from (x, y) centres and (height, width) sizes."""
    half_w, half_h = sizes[..., 1] / 2, sizes[..., 0] / 2
    x, y = centres[..., 0], centres[..., 1]
    return np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=-1)


def _class_term(logits, classes, class_activation):
    """Return the per-slot class loss (..., ) and its gradient (..., K)."""
    if class_activation == "softmax":
        log_probs = log_softmax(logits, axis=-1)
        loss = -(classes * log_probs).sum(axis=-1)
        dlogits = np.exp(log_probs) * classes.sum(axis=-1, keepdims=True) - classes
        return loss, dlogits
    # Stable binary cross-entropy: max(z, 0) - z c + log(1 + exp(-|z|)).
    loss = (np.maximum(logits, 0) - logits * classes
            + np.log1p(np.exp(-np.abs(logits)))).sum(axis=-1)
    return loss, sigmoid(logits) - classes


def yolo_loss(output, target, anchors, lambda_coord=5.0, lambda_noobj=0.5,
              lambda_obj=1.0, lambda_class=1.0, class_activation="softmax",
              ignore_iou=None):
    """Compute the YOLO loss of raw network output and its gradient.

    Parameters
    ----------
    output : ndarray of shape (N, A * (5 + K), GH, GW), float32 or float64
        Raw network output; channel ``a * (5 + K) + j`` is entry j of anchor a.
    target : ndarray of shape (N, GH, GW, A, 5 + K)
        The targets of ``yolo_encode`` for each image, stacked.
    anchors : array_like of shape (A, 2)
        Anchor (width, height) in cell units.
    lambda_coord : float, default 5.0
        Weight of the centre-offset and log-size errors of object slots.
    lambda_noobj : float, default 0.5
        Weight of the objectness error of slots without an object.
    lambda_obj : float, default 1.0
        Weight of the objectness error of object slots.
    lambda_class : float, default 1.0
        Weight of the class loss of object slots.
    class_activation : {"softmax", "sigmoid"}, default "softmax"
    ignore_iou : float, optional
        Leave out of the no-object term the slots whose predicted box has IoU
        above this with an object of their image (YOLOv2: 0.6). The default,
        None, keeps every empty slot, as the course's loss does.

    Returns
    -------
    loss : float
        The weighted sum of the module docstring's terms, averaged over N.
    doutput : ndarray of the shape and dtype of ``output``
        Gradient of ``loss`` with respect to ``output``, ready for the
        network's ``backward``.
    """
    terms, doutput = yolo_loss_terms(output, target, anchors, lambda_coord,
                                     lambda_noobj, lambda_obj, lambda_class,
                                     class_activation, ignore_iou)
    return sum(terms.values()), doutput
