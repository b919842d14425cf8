"""Box formats, area, clipping and small-box removal."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection_strategies import lattice_boxes
from nnscratch.detection import (
    box_area,
    box_convert,
    clip_boxes_to_image,
    remove_small_boxes,
)

FORMATS = ("xyxy", "xywh", "cxcywh")


def test_box_convert_known_values():
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "xywh"),
                                  [[10, 20, 20, 40]])
    np.testing.assert_array_equal(box_convert(xyxy, "xyxy", "cxcywh"),
                                  [[20, 40, 20, 40]])
    np.testing.assert_array_equal(box_convert([[20, 40, 20, 40]], "cxcywh", "xyxy"),
                                  xyxy)
    np.testing.assert_array_equal(box_convert([[10, 20, 20, 40]], "xywh", "xyxy"),
                                  xyxy)


@given(lattice_boxes(), st.sampled_from(list(itertools.permutations(FORMATS, 2))))
def test_box_convert_round_trip(boxes, formats):
    in_fmt, out_fmt = formats
    start = box_convert(boxes, "xyxy", in_fmt)
    back = box_convert(box_convert(start, in_fmt, out_fmt), out_fmt, "xyxy")
    np.testing.assert_allclose(back, boxes, atol=1e-12)


def test_box_convert_keeps_leading_axes_and_dtype():
    boxes = np.zeros((2, 3, 4), dtype=np.float32)
    out = box_convert(boxes, "xyxy", "cxcywh")
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.float32
    assert box_convert(boxes.astype(np.float16), "xyxy", "xywh").dtype == np.float32
    assert box_convert(boxes.astype(np.int32), "xyxy", "xywh").dtype == np.float64


def test_box_convert_rejects_unknown_format():
    with pytest.raises(ValueError, match="in_fmt"):
        box_convert(np.zeros((1, 4)), "yxyx", "xyxy")
    with pytest.raises(ValueError, match="out_fmt"):
        box_convert(np.zeros((1, 4)), "xyxy", "xyhw")


def test_box_convert_rejects_negative_size():
    with pytest.raises(ValueError, match="w >= 0"):
        box_convert(np.array([[0.0, 0.0, -1.0, 2.0]]), "xywh", "xyxy")


def test_box_area_known_values():
    boxes = np.array([[0, 0, 2, 3], [1, 1, 1, 5], [-2, -2, 2, 2]])
    np.testing.assert_array_equal(box_area(boxes), [6, 0, 16])


def test_box_area_float16_does_not_overflow():
    area = box_area(np.array([[0, 0, 300, 300]], dtype=np.float16))
    assert area.dtype == np.float32
    assert area[0] == 90000


def test_box_area_rejects_inverted_box():
    with pytest.raises(ValueError, match=r"boxes\[1\].*inverted"):
        box_area(np.array([[0, 0, 1, 1], [3, 0, 2, 1]]))


def test_box_area_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        box_area(np.array([[0, 0, np.nan, 1]]))


def test_box_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        box_area(np.zeros((3, 5)))
    with pytest.raises(TypeError, match="boxes"):
        box_area("0 0 1 1")


def test_clip_boxes_to_image():
    boxes = np.array([[-5.0, -1.0, 15.0, 8.0], [20.0, 20.0, 30.0, 30.0]])
    clipped = clip_boxes_to_image(boxes, (6, 10))
    np.testing.assert_array_equal(clipped, [[0, 0, 10, 6], [10, 6, 10, 6]])
    np.testing.assert_array_equal(boxes[0], [-5, -1, 15, 8])


@given(lattice_boxes())
def test_clip_boxes_stay_inside_image(boxes):
    clipped = clip_boxes_to_image(boxes, (5, 7))
    assert (clipped[:, 0::2] >= 0).all()
    assert (clipped[:, 0::2] <= 7).all()
    assert (clipped[:, 1::2] >= 0).all()
    assert (clipped[:, 1::2] <= 5).all()
    assert (box_area(clipped) <= box_area(boxes)).all()


def test_remove_small_boxes_keeps_at_min_size():
    boxes = np.array([[0, 0, 2, 2], [0, 0, 1, 3], [0, 0, 3, 0.5], [1, 1, 4, 4]])
    kept = remove_small_boxes(boxes, 2)
    assert kept.dtype == np.int64
    np.testing.assert_array_equal(kept, [0, 3])


def test_remove_small_boxes_rejects_negative_size():
    with pytest.raises(ValueError, match="min_size"):
        remove_small_boxes(np.zeros((1, 4)), -1)
