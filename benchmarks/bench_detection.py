"""Benchmarks of the detection toolkit: NMS, pairwise IoU, sliding windows.

``cases(quick=False)`` yields the comparisons for the shared runner::

    python -m benchmarks detection [--quick] [--threads 1 2]

Targets, as time ratios ours / reference: the Numba NMS at most 0.2 (5x
faster) of the vectorised NumPy NMS at 1,000 boxes, and the convolutional
sliding window at most 0.1 (10x faster) of the naive one on a 224 x 224 image.

NMS boxes are drawn in a 1000 x 1000 image in two ways. "uniform" boxes are
scattered, so few overlap and most survive, which is the worst case for the
NumPy loop (one vector step per kept box). "clustered" boxes crowd around one
object per 20 boxes, as a detector's raw output does, so most are suppressed.
"""

import numpy as np

from benchmarks.harness import Case
from nnscratch.detection import box_iou, nms, sliding_window_conv, sliding_window_naive
from nnscratch.kernels.nms import greedy_nms_numpy
from nnscratch.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, fc_to_conv
from nnscratch.model import Sequential

GROUP = "detection"
IOU_THRESHOLD = 0.5
NMS_TARGET_RATIO = 0.2
SLIDING_TARGET_RATIO = 0.1


def uniform_boxes(count, seed=0):
    """Return xyxy boxes 10 to 100 pixels a side scattered over 1000 x 1000."""
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 1000, (count, 2))
    sizes = rng.uniform(10, 100, (count, 2))
    return np.concatenate([corners, corners + sizes], axis=1), rng.random(count)


def clustered_boxes(count, seed=0):
    """Return xyxy boxes crowded around count / 20 objects, like raw detections."""
    rng = np.random.default_rng(seed)
    num_objects = max(1, count // 20)
    centres = rng.uniform(50, 950, (num_objects, 2))
    sizes = rng.uniform(20, 150, (num_objects, 2))
    owner = rng.integers(0, num_objects, count)
    centre = centres[owner] + rng.normal(0, 0.1, (count, 2)) * sizes[owner]
    size = sizes[owner] * rng.uniform(0.8, 1.25, (count, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return boxes, rng.random(count)


def numpy_nms(boxes, scores, iou_threshold=IOU_THRESHOLD):
    """Classic vectorised greedy NMS: sort, then one NumPy step per kept box."""
    order = np.argsort(-scores, kind="stable")
    classes = np.zeros(len(order), dtype=np.int64)
    return order[greedy_nms_numpy(boxes[order], classes, iou_threshold, True)]


def python_nms(boxes, scores, iou_threshold=IOU_THRESHOLD):
    """Greedy NMS as a pure Python loop over lists of floats."""
    boxes = boxes.tolist()
    remaining = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        x1, y1, x2, y2 = boxes[best]
        area = (x2 - x1) * (y2 - y1)
        survivors = []
        for j in remaining:
            a1, b1, a2, b2 = boxes[j]
            w = max(0.0, min(x2, a2) - max(x1, a1))
            h = max(0.0, min(y2, b2) - max(y1, b1))
            union = (area + (a2 - a1) * (b2 - b1)) - w * h
            if not (union > 0 and w * h / union >= iou_threshold):
                survivors.append(j)
        remaining = survivors
    return np.asarray(keep, dtype=np.int64)


def python_iou(boxes1, boxes2):
    """Pairwise IoU as a pure Python double loop."""
    rows = []
    for x1, y1, x2, y2 in boxes1.tolist():
        row = []
        for a1, b1, a2, b2 in boxes2.tolist():
            w = max(0.0, min(x2, a2) - max(x1, a1))
            h = max(0.0, min(y2, b2) - max(y1, b1))
            union = (x2 - x1) * (y2 - y1) + (a2 - a1) * (b2 - b1) - w * h
            row.append(w * h / union if union > 0 else 0.0)
        rows.append(row)
    return np.asarray(rows)


def row_by_row_iou(boxes1, boxes2):
    """Pairwise IoU with one NumPy vector step per box of ``boxes1``."""
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, (x1, y1, x2, y2) in enumerate(boxes1):
        w = np.maximum(0.0, np.minimum(x2, boxes2[:, 2]) - np.maximum(x1, boxes2[:, 0]))
        h = np.maximum(0.0, np.minimum(y2, boxes2[:, 3]) - np.maximum(y1, boxes2[:, 1]))
        union = (x2 - x1) * (y2 - y1) + area2 - w * h
        np.divide(w * h, union, out=out[i], where=union > 0)
    return out


def window_classifier(seed=0):
    """Build the 14 x 14 x 3 classifier with 4 outputs of the sliding-window
    example in Andrew Ng's course on convolutional networks, float32."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(3, 16, 5, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(5 * 5 * 16, 400, rng=rng),
        ReLU(),
        Linear(400, 400, rng=rng),
        ReLU(),
        Linear(400, 4, rng=rng),
    ).eval()


def converted_flops(model, input_shape):
    """Return the forward FLOPs of the fully convolutional copy of ``model``."""
    converted = fc_to_conv(model, (1, 3, 14, 14))
    shape, total = input_shape, 0
    for layer in converted.layers:
        total += layer.flops(shape)
        shape = layer.output_shape(shape)
    return total


def photo(size):
    """Return the astronaut photograph cut to (3, size, size), float32 in [0, 1]."""
    from skimage import data

    image = data.astronaut()  # (512, 512, 3), uint8
    step = max(1, image.shape[0] // size)
    crop = image[: size * step : step, : size * step : step]  # (size, size, 3)
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / 255


def assert_same_indices(ours, reference):
    np.testing.assert_array_equal(ours, reference)


def assert_close(ours, reference):
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def _nms_cases(quick):
    sizes = (100, 1000) if quick else (100, 1000, 10000)
    python_sizes = (100,) if quick else (100, 1000)
    for label, make in (("uniform", uniform_boxes), ("clustered", clustered_boxes)):
        for count in sizes:
            boxes, scores = make(count)
            ours = (lambda b=boxes, s=scores:
                    nms(b, s, IOU_THRESHOLD, score_threshold=None))
            target = NMS_TARGET_RATIO if count == 1000 else None
            yield Case(GROUP, f"nms {count:,} {label} boxes", ours,
                       lambda b=boxes, s=scores: numpy_nms(b, s),
                       "vectorised NumPy greedy NMS", check=assert_same_indices,
                       target_ratio=target)
            if count in python_sizes:
                yield Case(GROUP, f"nms {count:,} {label} boxes vs Python", ours,
                           lambda b=boxes, s=scores: python_nms(b, s),
                           "pure Python loop", check=assert_same_indices)


def _iou_cases(quick):
    boxes, _ = uniform_boxes(100, seed=1)
    yield Case(GROUP, "box_iou 100 x 100", lambda: box_iou(boxes, boxes),
               lambda: python_iou(boxes, boxes), "pure Python loop",
               check=assert_close)
    count = 300 if quick else 1000
    boxes, _ = uniform_boxes(count, seed=2)
    yield Case(GROUP, f"box_iou {count:,} x {count:,}", lambda: box_iou(boxes, boxes),
               lambda: row_by_row_iou(boxes, boxes), "NumPy loop over rows",
               check=assert_close)


def _sliding_cases(quick):
    size = 64 if quick else 224
    model = window_classifier()
    image = photo(size)
    conv = (lambda: sliding_window_conv(model, image, 14))
    flops = converted_flops(model, (1, 3, size, size))
    yield Case(GROUP, f"sliding window {size}x{size}, crop by crop", conv,
               lambda: sliding_window_naive(model, image, 14, 2),
               "naive loop, one crop per forward", check=assert_close, flops=flops,
               target_ratio=None if quick else SLIDING_TARGET_RATIO)
    yield Case(GROUP, f"sliding window {size}x{size}, crops in batches", conv,
               lambda: sliding_window_naive(model, image, 14, 2, batch_size=256),
               "naive loop, 256 crops per forward", check=assert_close, flops=flops)


def cases(quick=False):
    """Yield the detection benchmark cases; ``quick`` shrinks every size."""
    yield from _nms_cases(quick)
    yield from _iou_cases(quick)
    yield from _sliding_cases(quick)
