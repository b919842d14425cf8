"""Average precision and mAP: hand cases, duplicates, and pycocotools."""

import contextlib
import io

import numpy as np
import pytest

from nnscratch.detection import (
    average_precision_coco,
    average_precision_voc,
    mean_average_precision,
)

BOX_A = [0.0, 0.0, 10.0, 10.0]
BOX_B = [20.0, 20.0, 30.0, 30.0]
FAR = [50.0, 50.0, 60.0, 60.0]


def image(det_boxes, scores, det_labels, gt_boxes, gt_labels):
    det = {"boxes": np.array(det_boxes, float).reshape(-1, 4),
           "scores": np.array(scores, float), "labels": np.array(det_labels, int)}
    gt = {"boxes": np.array(gt_boxes, float).reshape(-1, 4),
          "labels": np.array(gt_labels, int)}
    return det, gt


def evaluate(images, method):
    detections = [det for det, _ in images]
    truths = [gt for _, gt in images]
    return mean_average_precision(detections, truths, method=method)


@pytest.mark.parametrize("method", ["voc", "coco"])
def test_perfect_detections_give_map_one(method):
    images = [
        image([BOX_A, BOX_B], [0.9, 0.3], [0, 1], [BOX_A, BOX_B], [0, 1]),
        image([FAR], [0.5], [1], [FAR], [1]),
    ]
    result = evaluate(images, method)
    assert result["map"] == pytest.approx(1.0)
    assert result["per_class"] == {0: pytest.approx(1.0), 1: pytest.approx(1.0)}


def test_false_positive_ranked_first_halves_ap():
    # Detections: FP (0.9), then TP (0.8). Precision at recall 1 is 1/2.
    images = [image([FAR, BOX_A], [0.9, 0.8], [0, 0], [BOX_A], [0])]
    assert evaluate(images, "voc")["map"] == pytest.approx(0.5)
    # All 101 recall points are reached only at the second detection.
    assert evaluate(images, "coco")["map"] == pytest.approx(0.5)


def test_known_curve_by_hand():
    # Two objects; detections TP, FP, TP: recall 1/2, 1/2, 1 and precision
    # 1, 1/2, 2/3. All-point AP: 1/2 * 1 + 1/2 * 2/3.
    images = [image([BOX_A, FAR, BOX_B], [0.9, 0.8, 0.7], [0, 0, 0],
                    [BOX_A, BOX_B], [0, 0])]
    assert evaluate(images, "voc")["map"] == pytest.approx(0.5 + 1 / 3)
    # 101 points: r = 0.00..0.50 (51 points) at precision 1, r = 0.51..1.00
    # (50 points) at precision 2/3.
    coco = (51 * 1 + 50 * 2 / 3) / 101
    assert evaluate(images, "coco")["map"] == pytest.approx(coco)
    assert average_precision_voc([0.5, 0.5, 1.0], [1, 0.5, 2 / 3]) == pytest.approx(
        0.5 + 1 / 3)
    assert average_precision_coco(np.array([0.5, 0.5, 1.0]),
                                  np.array([1, 0.5, 2 / 3])) == pytest.approx(coco)


def test_duplicate_detection_is_false_positive():
    # A found twice before B: TP, FP (duplicate), TP.
    images = [image([BOX_A, BOX_A, BOX_B], [0.9, 0.8, 0.7], [0, 0, 0],
                    [BOX_A, BOX_B], [0, 0])]
    assert evaluate(images, "voc")["map"] == pytest.approx(0.5 + 1 / 3)
    assert evaluate(images, "coco")["map"] < 0.9


def test_iou_threshold_is_inclusive():
    # The detection covers half of a box twice its size: IoU exactly 0.5.
    images = [image([[0.0, 0.0, 10.0, 5.0]], [0.9], [0], [BOX_A], [0])]
    result = mean_average_precision([images[0][0]], [images[0][1]],
                                    iou_thresholds=[0.5, 0.50001])
    assert result["per_iou"] == {0.5: 1.0, 0.50001: 0.0}


def test_voc_and_coco_matching_rules_differ():
    # The second detection's best box (A, IoU 0.8) is already taken; box C
    # also overlaps it, with IoU 0.625. VOC counts a false positive, COCO
    # matches C.
    box_c = [0.0, 0.0, 10.0, 5.0]
    det = [BOX_A, [0.0, 0.0, 10.0, 8.0]]
    images = [image(det, [0.9, 0.8], [0, 0], [BOX_A, box_c], [0, 0])]
    voc = mean_average_precision([images[0][0]], [images[0][1]], "voc")
    coco = mean_average_precision([images[0][0]], [images[0][1]], "coco",
                                  iou_thresholds=[0.5])
    assert voc["map"] == pytest.approx(0.5)
    assert coco["map"] == pytest.approx(1.0)


def test_class_without_ground_truth_is_skipped():
    images = [image([BOX_A, BOX_B], [0.9, 0.9], [0, 5], [BOX_A], [0])]
    result = evaluate(images, "voc")
    assert result["per_class"] == {0: 1.0}


def test_class_without_detections_scores_zero():
    images = [image([BOX_A], [0.9], [0], [BOX_A, BOX_B], [0, 1])]
    result = evaluate(images, "coco")
    assert result["per_class"] == {0: pytest.approx(1.0), 1: 0.0}
    assert result["map"] == pytest.approx(0.5)


def test_no_ground_truth_gives_nan():
    images = [image([BOX_A], [0.9], [0], np.zeros((0, 4)), [])]
    assert np.isnan(evaluate(images, "voc")["map"])


def test_coco_counts_top_100_detections_per_image():
    # 100 false positives score above the one true positive.
    boxes = [[100.0 + i, 0.0, 101.0 + i, 1.0] for i in range(100)] + [BOX_A]
    scores = list(np.linspace(0.99, 0.5, 100)) + [0.1]
    images = [image(boxes, scores, [0] * 101, [BOX_A], [0])]
    assert evaluate(images, "coco")["map"] == 0.0
    assert evaluate(images, "voc")["map"] == pytest.approx(1 / 101)


def test_map_rejects_bad_input():
    det, gt = image([BOX_A], [0.9], [0], [BOX_A], [0])
    with pytest.raises(ValueError, match="one of each per image"):
        mean_average_precision([det, det], [gt])
    with pytest.raises(ValueError, match="method"):
        mean_average_precision([det], [gt], method="kitti")
    with pytest.raises(ValueError, match="'scores'"):
        mean_average_precision([{"boxes": det["boxes"]}], [gt])
    with pytest.raises(ValueError, match="iou_thresholds"):
        mean_average_precision([det], [gt], iou_thresholds=[0.0])


def generated_dataset(seed, num_images=12, num_classes=3):
    """Ground truths on a 1/16-pixel lattice and detections built from them:
    jittered hits, duplicates, misses and false positives, with tied scores.
    Crowded objects make the COCO matching rule (best free box) differ from
    VOC's (best box, free or not)."""
    rng = np.random.default_rng(seed)
    detections, truths = [], []
    for _ in range(num_images):
        count = rng.integers(0, 6)
        corners = np.round(rng.uniform(0, 200, (count, 2)) * 16) / 16
        sizes = np.round(rng.uniform(8, 60, (count, 2)) * 16) / 16
        gt_boxes = np.concatenate([corners, corners + sizes], axis=1)
        gt_labels = rng.integers(0, num_classes, count)
        # Crowds: shifted copies of objects with the same label, so one
        # detection overlaps several ground-truth boxes of its class.
        for box, label in zip(list(gt_boxes), list(gt_labels)):
            if rng.random() < 0.6:
                shift = np.round(rng.uniform(0.1, 0.4, 2) * (box[2:] - box[:2]) * 16)
                gt_boxes = np.vstack([gt_boxes, box + np.tile(shift / 16, 2)])
                gt_labels = np.append(gt_labels, label)

        det_boxes, det_labels = [], []
        for box, label in zip(gt_boxes, gt_labels):
            for _ in range(rng.integers(0, 3)):  # 0: a miss, 2: a duplicate
                jitter = np.round(rng.normal(0, 0.08, 4) * (box[2:] - box[:2]).repeat(2)
                                  * 16) / 16
                moved = box + jitter
                moved[2:] = np.maximum(moved[2:], moved[:2] + 1)
                det_boxes.append(moved)
                det_labels.append(label if rng.random() < 0.9 else
                                  rng.integers(0, num_classes))
        for _ in range(rng.integers(0, 4)):  # false positives
            corner = np.round(rng.uniform(0, 200, 2) * 16) / 16
            det_boxes.append(np.concatenate([corner, corner + rng.integers(8, 40, 2)]))
            det_labels.append(rng.integers(0, num_classes))
        scores = rng.choice([0.3, 0.5, 0.55, 0.7, 0.8, 0.9, 0.95], len(det_boxes))
        detections.append({"boxes": np.array(det_boxes, float).reshape(-1, 4),
                           "scores": scores, "labels": np.array(det_labels, int)})
        truths.append({"boxes": gt_boxes, "labels": gt_labels})
    return detections, truths


def pycocotools_precision(detections, truths, num_classes):
    """Run pycocotools on the dataset; return its precision array and classes."""
    coco_module = pytest.importorskip("pycocotools.coco",
                                      reason="pycocotools is an optional test "
                                      "dependency: pip install -e '.[test]'")
    cocoeval_module = pytest.importorskip("pycocotools.cocoeval")

    def xywh(box):
        return [float(box[0]), float(box[1]), float(box[2] - box[0]),
                float(box[3] - box[1])]

    annotations, results = [], []
    for image_id, (det, gt) in enumerate(zip(detections, truths), start=1):
        for box, label in zip(gt["boxes"], gt["labels"]):
            w, h = box[2:] - box[:2]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": int(label) + 1, "bbox": xywh(box),
                                "area": float(w * h), "iscrowd": 0})
        for box, score, label in zip(det["boxes"], det["scores"], det["labels"]):
            results.append({"image_id": image_id, "category_id": int(label) + 1,
                            "bbox": xywh(box), "score": float(score)})
    dataset = {
        "images": [{"id": i + 1, "width": 300, "height": 300}
                   for i in range(len(truths))],
        "annotations": annotations,
        "categories": [{"id": k + 1, "name": str(k)} for k in range(num_classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground = coco_module.COCO()
        ground.dataset = dataset
        ground.createIndex()
        evaluation = cocoeval_module.COCOeval(ground, ground.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    # (T, R, K, area ranges, max detections): area "all", 100 detections.
    return evaluation.eval["precision"][:, :, :, 0, 2]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_coco_map_matches_pycocotools(seed):
    detections, truths = generated_dataset(seed)
    precision = pycocotools_precision(detections, truths, num_classes=3)
    result = mean_average_precision(detections, truths, method="coco")

    valid = precision > -1
    assert result["map"] == pytest.approx(precision[valid].mean(), abs=1e-6)
    for index, threshold in enumerate(np.linspace(0.5, 0.95, 10)):
        theirs = precision[index][precision[index] > -1].mean()
        assert result["per_iou"][float(threshold)] == pytest.approx(theirs, abs=1e-6)
    for label, ap in result["per_class"].items():
        theirs = precision[:, :, label]
        assert ap == pytest.approx(theirs.mean(), abs=1e-6)


def reference_voc_ap(detections, truths, label, threshold=0.5):
    """VOC AP of one class as plain loops, following the development kit."""
    ranked = []
    for index, det in enumerate(detections):
        for box, score, det_label in zip(det["boxes"], det["scores"], det["labels"]):
            if det_label == label:
                ranked.append((-score, index, len(ranked), box))
    ranked.sort(key=lambda item: (item[0], item[1], item[2]))
    taken = {i: [False] * len(gt["boxes"]) for i, gt in enumerate(truths)}
    num_gt = sum(int((gt["labels"] == label).sum()) for gt in truths)

    hits = []
    for _, index, _, box in ranked:
        best_iou, best = -1.0, None
        for g, (gt_box, gt_label) in enumerate(zip(truths[index]["boxes"],
                                                   truths[index]["labels"])):
            if gt_label != label:
                continue
            w = max(0.0, min(box[2], gt_box[2]) - max(box[0], gt_box[0]))
            h = max(0.0, min(box[3], gt_box[3]) - max(box[1], gt_box[1]))
            union = ((box[2] - box[0]) * (box[3] - box[1])
                     + (gt_box[2] - gt_box[0]) * (gt_box[3] - gt_box[1]) - w * h)
            iou = w * h / union
            if iou > best_iou:
                best_iou, best = iou, g
        hit = best is not None and best_iou >= threshold and not taken[index][best]
        if hit:
            taken[index][best] = True
        hits.append(hit)

    # All-point interpolation: area under the precision envelope.
    ap, true_positives, previous_recall = 0.0, 0, 0.0
    precisions, recalls = [], []
    for rank, hit in enumerate(hits, start=1):
        true_positives += hit
        precisions.append(true_positives / rank)
        recalls.append(true_positives / num_gt)
    for i, recall in enumerate(recalls):
        if recall > previous_recall:
            ap += (recall - previous_recall) * max(precisions[i:])
            previous_recall = recall
    return ap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_voc_map_matches_loop_reference(seed):
    detections, truths = generated_dataset(seed)
    result = mean_average_precision(detections, truths, method="voc")
    for label, ap in result["per_class"].items():
        assert ap == pytest.approx(reference_voc_ap(detections, truths, label),
                                   abs=1e-12)
