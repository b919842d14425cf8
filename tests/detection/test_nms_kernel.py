"""The Numba NMS kernel equals its NumPy twin and its own Python form."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection_strategies import random_boxes, scored_boxes
from nnscratch.kernels.nms import (
    _greedy_nms_loops,
    greedy_nms,
    greedy_nms_numba,
    greedy_nms_numpy,
)

THRESHOLDS = st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0])


def sort_by_score(boxes, scores, classes):
    order = np.argsort(-scores, kind="stable")
    return np.ascontiguousarray(boxes[order]), classes[order].astype(np.int64)


def run_all(boxes, classes, iou_threshold, inclusive):
    return (
        greedy_nms_numba(boxes, classes, iou_threshold, inclusive),
        greedy_nms_numpy(boxes, classes, iou_threshold, inclusive),
        _greedy_nms_loops(boxes, classes, iou_threshold, inclusive),
    )


@given(scored_boxes(min_boxes=1), THRESHOLDS, st.booleans())
def test_nms_kernel_twins_equal_on_lattice_boxes(draw, iou_threshold, inclusive):
    boxes, classes = sort_by_score(*draw)
    numba_kept, numpy_kept, loop_kept = run_all(boxes, classes, iou_threshold,
                                                inclusive)
    assert numba_kept.dtype == numpy_kept.dtype == np.int64
    np.testing.assert_array_equal(numba_kept, numpy_kept)
    np.testing.assert_array_equal(numba_kept, loop_kept)


@given(random_boxes(), THRESHOLDS, st.booleans())
def test_nms_kernel_twins_equal_on_continuous_boxes(draw, iou_threshold, inclusive):
    boxes, classes = sort_by_score(*draw)
    if len(boxes) == 0:
        return
    numba_kept, numpy_kept, _ = run_all(boxes, classes, iou_threshold, inclusive)
    np.testing.assert_array_equal(numba_kept, numpy_kept)


EDGE_CASES = {
    "one box": np.array([[0.0, 0.0, 1.0, 1.0]]),
    "identical boxes": np.array([[0.0, 0.0, 1.0, 1.0]] * 4),
    "zero-area boxes": np.array([[1.0, 1.0, 1.0, 1.0]] * 3),
    "signed zeros": np.array([[-0.0, -0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]),
    "at threshold": np.array([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0]]),
    "large coordinates": np.array([[0.0, 0.0, 1e150, 1e150],
                                   [0.0, 0.0, 1e150, 5e149]]),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
@pytest.mark.parametrize("inclusive", [True, False])
def test_nms_kernel_twins_equal_on_edge_arrays(name, inclusive):
    boxes = EDGE_CASES[name]
    classes = np.zeros(len(boxes), dtype=np.int64)
    numba_kept, numpy_kept, loop_kept = run_all(boxes, classes, 0.5, inclusive)
    np.testing.assert_array_equal(numba_kept, numpy_kept)
    np.testing.assert_array_equal(numba_kept, loop_kept)


def test_nms_kernel_zero_area_boxes_never_suppress():
    boxes = EDGE_CASES["zero-area boxes"]
    classes = np.zeros(3, dtype=np.int64)
    assert greedy_nms_numba(boxes, classes, 0.5, True).tolist() == [0, 1, 2]


def test_nms_kernel_empty_input_uses_numpy_twin():
    kept = greedy_nms(np.zeros((0, 4)), np.zeros(0, np.int64), 0.5, True)
    assert kept.dtype == np.int64
    assert kept.shape == (0,)
    np.testing.assert_array_equal(
        greedy_nms_numpy(np.zeros((0, 4)), np.zeros(0, np.int64), 0.5, True), kept)
