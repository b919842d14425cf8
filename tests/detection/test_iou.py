"""Pairwise IoU and generalised IoU."""

import numpy as np
import pytest
from hypothesis import given

from detection_strategies import lattice_boxes, pair_iou, random_boxes
from nnscratch.detection import box_iou, generalized_box_iou


def test_iou_worked_example_is_one_seventh():
    iou = box_iou(np.array([[2, 1, 4, 3]]), np.array([[1, 2, 3, 4]]))
    assert iou.shape == (1, 1)
    assert iou[0, 0] == pytest.approx(1 / 7, abs=1e-15)


def test_iou_of_edge_and_corner_contact_is_zero():
    box = np.array([[0.0, 0.0, 1.0, 1.0]])
    touching = np.array([
        [1.0, 0.0, 2.0, 1.0],  # shares the right edge
        [0.0, 1.0, 1.0, 2.0],  # shares the bottom edge
        [1.0, 1.0, 2.0, 2.0],  # shares the bottom-right corner
        [-1.0, -1.0, 0.0, 0.0],  # shares the top-left corner
    ])
    np.testing.assert_array_equal(box_iou(box, touching), [[0, 0, 0, 0]])


def test_iou_of_zero_area_box_is_zero_not_nan():
    boxes = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 1.0, 3.0]])
    iou = box_iou(boxes, boxes)
    assert np.isfinite(iou).all()
    assert iou[0, 0] == 0
    assert iou[2, 2] == 0
    assert iou[0, 1] == 0
    assert iou[1, 2] == 0
    assert iou[1, 1] == 1


@given(lattice_boxes(), lattice_boxes())
def test_iou_equals_loop_over_pairs(boxes1, boxes2):
    iou = box_iou(boxes1, boxes2)
    assert iou.shape == (len(boxes1), len(boxes2))
    for i, a in enumerate(boxes1):
        for j, b in enumerate(boxes2):
            assert iou[i, j] == pair_iou(a, b)


@given(random_boxes())
def test_iou_symmetric_bounded_and_one_on_diagonal(draw):
    boxes = draw[0]
    iou = box_iou(boxes, boxes)
    np.testing.assert_array_equal(iou, iou.T)
    assert ((iou >= 0) & (iou <= 1)).all()
    positive = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    np.testing.assert_allclose(np.diag(iou)[positive], 1.0, rtol=1e-12)


def test_iou_float16_is_computed_in_float32():
    big = np.array([[0, 0, 300, 300]], dtype=np.float16)
    half = np.array([[0, 0, 300, 150]], dtype=np.float16)
    iou = box_iou(big, half)
    assert iou.dtype == np.float32
    assert iou[0, 0] == 0.5


def test_iou_dtype_follows_inputs():
    boxes32 = np.zeros((1, 4), dtype=np.float32)
    assert box_iou(boxes32, boxes32).dtype == np.float32
    assert box_iou(boxes32, boxes32.astype(np.float64)).dtype == np.float64
    assert box_iou(np.zeros((1, 4), np.int64), boxes32).dtype == np.float64


def test_iou_rejects_inverted_box_naming_it():
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    inverted = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 2.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"boxes2\[1\] = \[0\.0, 2\.0, 1\.0, 1\.0\]"):
        box_iou(good, inverted)
    with pytest.raises(ValueError, match=r"boxes1\[1\].*inverted"):
        box_iou(inverted, good)


def test_iou_of_empty_sets_has_empty_shape():
    assert box_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert box_iou(np.zeros((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_giou_known_values():
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    apart = np.array([[2.0, 0.0, 3.0, 1.0]])  # enclosing area 3, union 2
    assert generalized_box_iou(a, apart)[0, 0] == pytest.approx(-1 / 3)
    inside = np.array([[0.25, 0.25, 0.75, 0.75]])
    assert generalized_box_iou(a, inside)[0, 0] == pytest.approx(0.25)
    assert generalized_box_iou(a, a)[0, 0] == 1


@given(random_boxes())
def test_giou_bounded_symmetric_and_below_iou(draw):
    boxes = draw[0]
    giou = generalized_box_iou(boxes, boxes[::-1])
    iou = box_iou(boxes, boxes[::-1])
    assert np.isfinite(giou).all()
    assert ((giou >= -1) & (giou <= 1)).all()
    assert (giou <= iou + 1e-12).all()
    np.testing.assert_allclose(generalized_box_iou(boxes[::-1], boxes), giou.T)


def test_giou_of_degenerate_boxes_is_finite():
    points = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0],
                       [3.0, 1.0, 3.0, 1.0]])
    giou = generalized_box_iou(points, points)
    assert np.isfinite(giou).all()
    assert giou[0, 1] == 0
