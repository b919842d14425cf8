"""Score a detector on a dataset: VOC mAP@0.5 and COCO mAP@[.5:.95]."""

import numpy as np

from nnscratch.detection.metrics import mean_average_precision
from nnscratch.detector.data import undo_letterbox
from nnscratch.detector.pipeline import letterbox_all

# mAP ranks every detection, so evaluation keeps low-scoring boxes too.
EVALUATION_SCORE_THRESHOLD = 0.01


def predict_dataset(detector, data, batch_size=32, score_threshold=EVALUATION_SCORE_THRESHOLD,
                    iou_threshold=0.5):
    """Run ``detector`` on every image of ``data``.

    Returns
    -------
    list of dict, one per image
        ``boxes`` (M, 4) pixel xyxy in the original image, ``scores``, ``labels``.
    """
    images, _, _, transforms = letterbox_all(data, detector.image_size)
    results = []
    for start in range(0, len(images), batch_size):
        x = np.ascontiguousarray(images[start:start + batch_size].transpose(0, 3, 1, 2))
        found = detector.predict_batch(x, score_threshold, iou_threshold)
        for offset, item in enumerate(found):
            index = start + offset
            item["boxes"] = undo_letterbox(item["boxes"], transforms[index],
                                           data.images[index].shape)
            results.append(item)
    return results


def evaluate_detector(detector, data, batch_size=32):
    """Return VOC and COCO mAP, overall and per class.

    Returns
    -------
    dict with ``map50`` (VOC all-point AP at IoU 0.5), ``map50_95`` (COCO
    101-point AP over IoU 0.50:0.05:0.95), and ``per_class``: a dict of class
    name to {"ap50", "ap50_95", "objects"}.
    """
    detections = predict_dataset(detector, data, batch_size)
    truths = [{"boxes": b, "labels": l} for b, l in zip(data.boxes, data.labels)]
    voc = mean_average_precision(detections, truths, method="voc")
    coco = mean_average_precision(detections, truths, method="coco")
    counts = np.bincount(np.concatenate(data.labels).astype(np.int64),
                         minlength=len(data.class_names))
    per_class = {
        name: {"ap50": voc["per_class"].get(index, float("nan")),
               "ap50_95": coco["per_class"].get(index, float("nan")),
               "objects": int(counts[index])}
        for index, name in enumerate(data.class_names)
    }
    return {"map50": voc["map"], "map50_95": coco["map"], "per_class": per_class}


def format_table(result):
    """Return the evaluation as a text table."""
    lines = [f"{'class':<12}{'objects':>9}{'AP@0.5':>9}{'AP@[.5:.95]':>13}"]
    for name, row in result["per_class"].items():
        lines.append(f"{name:<12}{row['objects']:>9}{row['ap50']:>9.4f}"
                     f"{row['ap50_95']:>13.4f}")
    total = sum(row["objects"] for row in result["per_class"].values())
    lines.append(f"{'all':<12}{total:>9}{result['map50']:>9.4f}"
                 f"{result['map50_95']:>13.4f}")
    return "\n".join(lines)
