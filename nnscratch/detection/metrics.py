"""Average precision per class and mean average precision (mAP) of detections.

For one class, the detections of every image are sorted by descending score.
Walking down that list, each detection is a true positive when it matches a
ground-truth box of its class and image with IoU >= the threshold, and a false
positive otherwise. A ground-truth box matches at most one detection, so a
second detection of an object already found (a duplicate) is a false positive.
After each detection, recall = TP / (number of ground-truth boxes) and
precision = TP / (TP + FP). AP summarises that curve; mAP averages AP over the
classes (and, for COCO, over IoU thresholds).

Two conventions, chosen with ``method``:

``"voc"``
    PASCAL VOC 2010+: IoU threshold 0.5 and all-point interpolation,
    AP = sum over recall steps of (r_i - r_{i-1}) * max{p(r') : r' >= r_i}.
    A detection is compared with the ground-truth box of highest IoU in its
    image. If that box is already taken, the detection is a false positive.
``"coco"``
    COCO: thresholds 0.50, 0.55, ..., 0.95 and 101-point interpolation,
    AP = mean over r in {0, 0.01, ..., 1} of max{p(r') : r' >= r} (0 when
    recall r is never reached). A detection takes the free ground-truth box of
    highest IoU at or above the threshold (the later box on ties), and at most
    the 100 highest-scoring detections per image and class count.

Boxes are pixel xyxy without the "+ 1" of the VOC development kit, so a VOC
IoU here equals pycocotools' IoU. Equal scores keep their input order (image
order, then order within the image), as pycocotools does. Only classes with at
least one ground-truth box are averaged; a class that appears only in the
detections has no defined recall and is skipped, as pycocotools skips it.

References
----------
Everingham, Van Gool, Williams, Winn and Zisserman, "The PASCAL Visual Object
Classes (VOC) Challenge", IJCV 2010.
Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014.
"""

import numpy as np

from nnscratch.detection.iou import box_iou

METHODS = ("voc", "coco")
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
COCO_MAX_DETECTIONS = 100


def average_precision_voc(recall, precision):
    """Compute all-point interpolated AP from a precision-recall curve.

    Parameters
    ----------
    recall, precision : array_like of shape (D,)
        Values after each detection, in descending score order (recall never
        decreases).

    Returns
    -------
    float
        Area under the curve whose precision at each recall is the highest
        precision at that recall or beyond.

    Examples
    --------
    >>> average_precision_voc([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3])
    0.8333333333333333
    """
    recall = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    precision = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64),
                                [0.0]])
    # Precision envelope: the maximum precision at this recall or any higher.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(((recall[steps + 1] - recall[steps]) * precision[steps + 1]).sum())


def average_precision_coco(recall, precision, recall_points=COCO_RECALL_POINTS):
    """Compute COCO's 101-point interpolated AP from a precision-recall curve.

    Parameters
    ----------
    recall, precision : array_like of shape (D,)
        As in ``average_precision_voc``.
    recall_points : array_like, default 0, 0.01, ..., 1

    Returns
    -------
    float
        Mean over the recall points r of the highest precision at recall
        >= r, or 0 where recall r is never reached.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if recall.size == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    first_reaching = np.searchsorted(recall, recall_points, side="left")
    reached = first_reaching < recall.size
    sampled = np.zeros(len(recall_points))
    sampled[reached] = envelope[first_reaching[reached]]
    return float(sampled.mean())


def _match_voc(ious, threshold):
    """Return TP flags (D,) of detections in score order, VOC rule."""
    D, G = ious.shape
    matched = np.zeros(D, dtype=bool)
    taken = np.zeros(G, dtype=bool)
    if G == 0:
        return matched
    # Only a detection with some IoU >= threshold can match.
    for d in np.flatnonzero((ious >= threshold).any(axis=1)):
        best = int(np.argmax(ious[d]))
        if ious[d, best] >= threshold and not taken[best]:
            matched[d] = True
            taken[best] = True
    return matched


def _match_coco(ious, threshold):
    """Return TP flags (D,) of detections in score order, COCO rule."""
    D, G = ious.shape
    matched = np.zeros(D, dtype=bool)
    taken = np.zeros(G, dtype=bool)
    # pycocotools caps the threshold just below 1, so IoU 1 - 1e-11 matches at 1.
    threshold = min(threshold, 1 - 1e-10)
    above = ious >= threshold
    # Only a detection with some IoU >= threshold can match: on a weak
    # detector's output that skips most of them.
    for d in np.flatnonzero(above.any(axis=1)):
        candidates = np.flatnonzero(above[d] & ~taken)
        if candidates.size == 0:
            continue
        # pycocotools keeps the later box on equal IoU.
        values = ious[d, candidates]
        best = candidates[len(values) - 1 - int(np.argmax(values[::-1]))]
        matched[d] = True
        taken[best] = True
    return matched


def _check_inputs(detections, ground_truths):
    if not isinstance(detections, (list, tuple)) or not isinstance(
            ground_truths, (list, tuple)):
        raise TypeError(
            "mean_average_precision: detections and ground_truths must be lists "
            "with one dict per image"
        )
    if len(detections) != len(ground_truths):
        raise ValueError(
            f"mean_average_precision: got {len(detections)} detection dicts but "
            f"{len(ground_truths)} ground-truth dicts; give one of each per image"
        )
    checked = []
    for index, (det, gt) in enumerate(zip(detections, ground_truths)):
        det_boxes = _field(det, "boxes", index, "detections")
        scores = np.asarray(_field(det, "scores", index, "detections"), np.float64)
        det_labels = np.asarray(_field(det, "labels", index, "detections"))
        gt_boxes = _field(gt, "boxes", index, "ground_truths")
        gt_labels = np.asarray(_field(gt, "labels", index, "ground_truths"))
        det_boxes = np.asarray(det_boxes, np.float64).reshape(-1, 4)
        gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
        num_dets = det_boxes.shape[0]
        if scores.shape != (num_dets,) or det_labels.shape != (num_dets,):
            raise ValueError(
                f"mean_average_precision: detections[{index}] has "
                f"{num_dets} boxes, {scores.shape} scores and "
                f"{det_labels.shape} labels; they must match"
            )
        if gt_labels.shape != (gt_boxes.shape[0],):
            raise ValueError(
                f"mean_average_precision: ground_truths[{index}] has "
                f"{gt_boxes.shape[0]} boxes but labels of shape {gt_labels.shape}"
            )
        checked.append((det_boxes, scores, det_labels.astype(np.int64),
                        gt_boxes, gt_labels.astype(np.int64)))
    return checked


def _field(record, key, index, name):
    if not isinstance(record, dict) or key not in record:
        raise ValueError(
            f"mean_average_precision: {name}[{index}] must be a dict with a "
            f"{key!r} entry"
        )
    return record[key]


def _class_average_precision(images, label, thresholds, method, max_detections):
    """Return the AP of one class at each IoU threshold, shape (T,)."""
    match = _match_voc if method == "voc" else _match_coco
    all_scores, all_matched = [], []
    num_gt = 0
    for det_boxes, scores, det_labels, gt_boxes, gt_labels in images:
        dets = np.flatnonzero(det_labels == label)
        dets = dets[np.argsort(-scores[dets], kind="stable")][:max_detections]
        gts = gt_labels == label
        num_gt += int(gts.sum())
        ious = box_iou(det_boxes[dets], gt_boxes[gts])  # (D, G)
        all_scores.append(scores[dets])
        all_matched.append(np.stack([match(ious, t) for t in thresholds]))

    scores = np.concatenate(all_scores)
    matched = np.concatenate(all_matched, axis=1)  # (T, D)
    order = np.argsort(-scores, kind="stable")
    true_positives = np.cumsum(matched[:, order], axis=1)  # (T, D)
    false_positives = np.cumsum(~matched[:, order], axis=1)
    recall = true_positives / num_gt
    precision = true_positives / np.maximum(true_positives + false_positives, 1)

    average = average_precision_voc if method == "voc" else average_precision_coco
    return np.array([average(r, p) for r, p in zip(recall, precision)])


def mean_average_precision(detections, ground_truths, method="voc",
                           iou_thresholds=None, max_detections=None):
    """Compute AP per class and mAP, the VOC or the COCO way.

    Parameters
    ----------
    detections : list of dict, one per image
        ``boxes``: array of shape (D, 4), pixel xyxy; ``scores``: (D,);
        ``labels``: (D,), int. The output of ``yolo_decode`` fits.
    ground_truths : list of dict, one per image, in the same order
        ``boxes``: array of shape (G, 4), pixel xyxy; ``labels``: (G,), int.
    method : {"voc", "coco"}, default "voc"
        Matching rule and interpolation, as in the module docstring.
    iou_thresholds : sequence of float, optional
        Default (0.5,) for VOC and 0.50:0.05:0.95 for COCO.
    max_detections : int, optional
        Highest-scoring detections counted per image and class. Default: all
        of them for VOC, 100 for COCO.

    Returns
    -------
    dict with
        ``map``: float, mean of ``per_class`` (NaN when there is no
        ground-truth box at all);
        ``per_class``: dict of int label to AP averaged over the thresholds;
        ``per_iou``: dict of float threshold to mAP at that threshold.
    """
    if method not in METHODS:
        raise ValueError(
            f"mean_average_precision: method must be one of {METHODS}, got "
            f"{method!r}"
        )
    if iou_thresholds is None:
        iou_thresholds = (0.5,) if method == "voc" else COCO_IOU_THRESHOLDS
    thresholds = np.atleast_1d(np.asarray(iou_thresholds, dtype=np.float64))
    if thresholds.ndim != 1 or not ((thresholds > 0) & (thresholds <= 1)).all():
        raise ValueError(
            "mean_average_precision: iou_thresholds must be numbers in (0, 1], got "
            f"{iou_thresholds!r}"
        )
    if max_detections is None and method == "coco":
        max_detections = COCO_MAX_DETECTIONS
    if max_detections is not None and (
            not isinstance(max_detections, (int, np.integer)) or max_detections < 1):
        raise ValueError(
            f"mean_average_precision: max_detections must be a positive int, got "
            f"{max_detections!r}"
        )

    images = _check_inputs(detections, ground_truths)
    labels = np.unique(np.concatenate([image[4] for image in images]
                                      or [np.zeros(0, np.int64)]))
    per_class_iou = {
        int(label): _class_average_precision(images, label, thresholds, method,
                                             max_detections)
        for label in labels
    }
    if not per_class_iou:
        return {"map": float("nan"), "per_class": {},
                "per_iou": {float(t): float("nan") for t in thresholds}}

    table = np.stack(list(per_class_iou.values()))  # (classes, T)
    return {
        "map": float(table.mean()),
        "per_class": {label: float(ap.mean()) for label, ap in per_class_iou.items()},
        "per_iou": {float(t): float(v) for t, v in zip(thresholds, table.mean(axis=0))},
    }
