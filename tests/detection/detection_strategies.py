"""Hypothesis strategies and loop references shared by the detection tests.

Boxes are drawn on a small integer lattice, so exact ties of IoU and score are
frequent: boxes at IoU exactly 0.5, identical boxes, equal scores.
"""

import numpy as np
from hypothesis import strategies as st

# Few distinct scores, so equal scores happen in most draws.
TIED_SCORES = st.sampled_from([0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


@st.composite
def lattice_boxes(draw, min_boxes=0, max_boxes=12, allow_empty_area=True):
    """Draw xyxy float64 boxes with integer corners in [0, 12]."""
    count = draw(st.integers(min_boxes, max_boxes))
    min_side = 0 if allow_empty_area else 1
    rows = []
    for _ in range(count):
        x1 = draw(st.integers(0, 8))
        y1 = draw(st.integers(0, 8))
        w = draw(st.integers(min_side, 4))
        h = draw(st.integers(min_side, 4))
        rows.append((x1, y1, x1 + w, y1 + h))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


@st.composite
def scored_boxes(draw, min_boxes=0, max_boxes=12, num_classes=3):
    """Draw (boxes (N, 4), scores (N,), classes (N,)) with many ties."""
    boxes = draw(lattice_boxes(min_boxes=min_boxes, max_boxes=max_boxes))
    count = boxes.shape[0]
    scores = draw(st.lists(TIED_SCORES, min_size=count, max_size=count))
    classes = draw(st.lists(st.integers(0, num_classes - 1), min_size=count,
                            max_size=count))
    return boxes, np.asarray(scores, dtype=np.float64), np.asarray(classes, np.int64)


@st.composite
def random_boxes(draw, max_boxes=30):
    """Draw float64 xyxy boxes with continuous coordinates from a seed."""
    count = draw(st.integers(0, max_boxes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    corners = rng.uniform(0, 50, (count, 2))
    sizes = rng.uniform(0, 20, (count, 2))
    boxes = np.concatenate([corners, corners + sizes], axis=1)
    scores = rng.random(count)
    classes = rng.integers(0, 3, count)
    return boxes, scores, classes


def pair_iou(a, b):
    """IoU of two xyxy boxes with Python floats, written from the definition."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = (area_a + area_b) - inter
    return inter / union if union > 0 else 0.0


def reference_nms(boxes, scores, classes, iou_threshold, score_threshold, inclusive):
    """Run greedy NMS as a plain Python loop over lists; return kept indices."""
    boxes = [tuple(float(v) for v in box) for box in boxes]
    candidates = [
        i for i in range(len(boxes))
        if score_threshold is None or scores[i] >= score_threshold
    ]
    candidates.sort(key=lambda i: (-scores[i], i))
    keep = []
    while candidates:
        best = candidates.pop(0)
        keep.append(best)
        survivors = []
        for j in candidates:
            iou = pair_iou(boxes[best], boxes[j])
            passes = iou >= iou_threshold if inclusive else iou > iou_threshold
            if not (classes[j] == classes[best] and passes):
                survivors.append(j)
        candidates = survivors
    return keep
