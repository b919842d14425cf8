"""Benchmarks of the detection toolkit: NMS, pairwise IoU, sliding windows.

``cases(quick=False)`` yields the comparisons for the shared runner. Run on
its own, the module times each case in an interleaved loop and prints a
table of median times and ratios::

    python -m benchmarks.bench_detection [--quick] [--threads 1] [--repeats 7]

Goals: the Numba NMS at least 5x faster than the vectorised NumPy NMS at
1,000 boxes, and the convolutional sliding window at least 10x faster than
the naive one on a 224 x 224 image.

NMS boxes are drawn in a 1000 x 1000 image in two ways. "uniform" boxes are
scattered, so few overlap and most survive, which is the worst case for the
NumPy loop (one vector step per kept box). "clustered" boxes crowd around one
object per 20 boxes, as a detector's raw output does, so most are suppressed.
"""

import argparse
import os
import platform
import time

import numpy as np

from benchmarks.harness import Case
from nnscratch.detection import box_iou, nms, sliding_window_conv, sliding_window_naive
from nnscratch.kernels.nms import greedy_nms_numpy
from nnscratch.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, fc_to_conv
from nnscratch.model import Sequential

GROUP = "detection"
IOU_THRESHOLD = 0.5
GOALS = {
    "nms 1,000 uniform boxes": 5.0,
    "nms 1,000 clustered boxes": 5.0,
    "sliding window 224x224, crop by crop": 10.0,
}


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
            yield Case(GROUP, f"nms {count:,} {label} boxes", ours,
                       lambda b=boxes, s=scores: numpy_nms(b, s),
                       "vectorised NumPy greedy NMS", check=assert_same_indices)
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
               "naive loop, one crop per forward", check=assert_close, flops=flops)
    yield Case(GROUP, f"sliding window {size}x{size}, crops in batches", conv,
               lambda: sliding_window_naive(model, image, 14, 2, batch_size=256),
               "naive loop, 256 crops per forward", check=assert_close, flops=flops)


def cases(quick=False):
    """Yield the detection benchmark cases; ``quick`` shrinks every size."""
    yield from _nms_cases(quick)
    yield from _iou_cases(quick)
    yield from _sliding_cases(quick)


def time_case(case, repeats, budget_s):
    """Time both sides of ``case`` interleaved; return (ours, reference) times.

    Each side runs once first (compiling Numba kernels) and the results are
    checked. Then rounds of one call each run until ``repeats`` rounds are
    done, or at least 3 are done and ``budget_s`` seconds have passed.
    """
    ours_result = case.ours()
    reference_result = case.reference()
    if case.check is not None:
        case.check(ours_result, reference_result)

    ours_times, reference_times = [], []
    start = time.perf_counter()
    while len(ours_times) < repeats:
        for side, times in ((case.ours, ours_times), (case.reference, reference_times)):
            tick = time.perf_counter()
            side()
            times.append(time.perf_counter() - tick)
        if len(ours_times) >= 3 and time.perf_counter() - start > budget_s:
            break
    return np.array(ours_times), np.array(reference_times)


def _set_threads(threads):
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(threads)
    threadpool_limits(threads)


def _describe_machine(threads):
    import numba

    return (f"{platform.machine()} {os.cpu_count()} CPUs, {threads} thread(s) for "
            f"Numba and BLAS; numpy {np.__version__}, numba {numba.__version__}, "
            f"python {platform.python_version()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes (NMS up to 1,000 boxes, a 64x64 image)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for Numba and BLAS (default 1)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="most timing rounds per case (default 7)")
    parser.add_argument("--only", default="",
                        help="run only the cases whose name contains this text")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per case after which timing stops once 3 "
                             "rounds are done (default 20)")
    args = parser.parse_args(argv)
    _set_threads(args.threads)

    print(_describe_machine(args.threads))
    header = (f"{'case':<44} {'ours ms':>10} {'min':>9} {'reference ms':>13} "
              f"{'min':>10} {'ratio':>7}  reference")
    print(header)
    print("-" * len(header))
    ratios = {}
    for case in cases(quick=args.quick):
        if args.only not in case.name:
            continue
        ours, reference = time_case(case, args.repeats, args.budget)
        ratio = np.median(reference) / np.median(ours)
        ratios[case.name] = ratio
        print(f"{case.name:<44} {np.median(ours) * 1e3:>10.3f} "
              f"{ours.min() * 1e3:>9.3f} {np.median(reference) * 1e3:>13.3f} "
              f"{reference.min() * 1e3:>10.3f} {ratio:>6.1f}x  {case.reference_name}",
              flush=True)

    print()
    for name, goal in GOALS.items():
        if name in ratios:
            verdict = "met" if ratios[name] >= goal else "NOT met"
            print(f"goal {name}: {ratios[name]:.1f}x (>= {goal:.0f}x) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
