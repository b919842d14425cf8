"""Greedy non-max suppression: properties, loop reference, threshold, ties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detection_strategies import random_boxes, reference_nms, scored_boxes
from nnscratch.detection import batched_nms, box_iou, nms

THRESHOLDS = st.sampled_from([0.0, 0.25, 0.3, 0.5, 0.7, 1.0])
SCORE_THRESHOLDS = st.sampled_from([None, 0.5, 0.6, 0.9])


def passes(iou, threshold, inclusive):
    return iou >= threshold if inclusive else iou > threshold


@given(scored_boxes(), THRESHOLDS, SCORE_THRESHOLDS, st.booleans())
def test_nms_agrees_with_loop_reference(draw, iou_threshold, score_threshold,
                                        inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, score_threshold,
                       inclusive)
    expected = reference_nms(boxes, scores, classes, iou_threshold,
                             score_threshold, inclusive)
    assert kept.tolist() == expected

    single = nms(boxes, scores, iou_threshold, score_threshold, inclusive)
    expected_single = reference_nms(boxes, scores, np.zeros(len(boxes)),
                                    iou_threshold, score_threshold, inclusive)
    assert single.tolist() == expected_single


@given(random_boxes(), THRESHOLDS, st.booleans())
def test_nms_agrees_with_loop_reference_on_continuous_boxes(draw, iou_threshold,
                                                            inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, None, inclusive)
    expected = reference_nms(boxes, scores, classes, iou_threshold, None, inclusive)
    assert kept.tolist() == expected


@given(scored_boxes(), THRESHOLDS, st.booleans())
def test_nms_returns_score_ordered_subset(draw, iou_threshold, inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, 0.5, inclusive)
    assert kept.dtype == np.int64
    assert len(set(kept.tolist())) == len(kept)
    assert ((kept >= 0) & (kept < len(boxes))).all()
    kept_scores = scores[kept]
    assert (np.diff(kept_scores) <= 0).all()
    # Equal scores come out in index order.
    same = np.diff(kept_scores) == 0
    assert (np.diff(kept)[same] > 0).all()
    assert (scores[kept] >= 0.5).all()


@given(scored_boxes(), THRESHOLDS, st.booleans())
def test_nms_keeps_no_overlapping_pair_of_one_class(draw, iou_threshold, inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, None, inclusive)
    iou = box_iou(boxes[kept], boxes[kept])
    for a in range(len(kept)):
        for b in range(a + 1, len(kept)):
            if classes[kept[a]] == classes[kept[b]]:
                assert not passes(iou[a, b], iou_threshold, inclusive)


@given(scored_boxes(), THRESHOLDS, SCORE_THRESHOLDS, st.booleans())
def test_nms_dropped_box_overlaps_kept_box(draw, iou_threshold, score_threshold,
                                           inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, score_threshold,
                       inclusive)
    iou = box_iou(boxes, boxes)
    for j in set(range(len(boxes))) - set(kept.tolist()):
        if score_threshold is not None and scores[j] < score_threshold:
            continue
        suppressors = [
            k for k in kept
            if classes[k] == classes[j] and scores[k] >= scores[j]
            and passes(iou[k, j], iou_threshold, inclusive)
        ]
        assert suppressors, f"box {j} was dropped without a kept box over it"


@given(
    x=st.integers(-20, 20), y=st.integers(-20, 20), w=st.integers(1, 16),
    h=st.integers(1, 16), scale=st.sampled_from([0.125, 0.5, 1.0, 3.0, 1024.0]),
)
def test_nms_at_exactly_threshold_iou(x, y, w, h, scale):
    # The wide box contains the narrow one and is twice its area: IoU is exactly 0.5.
    wide = np.array([x, y, x + 2 * w, y + h], dtype=np.float64) * scale
    narrow = np.array([x, y, x + w, y + h], dtype=np.float64) * scale
    boxes = np.stack([wide, narrow])
    assert box_iou(boxes[:1], boxes[1:])[0, 0] == 0.5
    scores = np.array([0.9, 0.8])

    inclusive = nms(boxes, scores, 0.5, inclusive=True)
    exclusive = nms(boxes, scores, 0.5, inclusive=False)
    assert inclusive.tolist() == [0]
    assert exclusive.tolist() == [0, 1]
    for rule in (True, False):
        assert nms(boxes, scores, 0.5, inclusive=rule).tolist() == reference_nms(
            boxes, scores, [0, 0], 0.5, 0.6, rule)


def test_nms_side_by_side_boxes_at_threshold():
    # Overlap 2 of a union of 4: IoU 0.5 without one box holding the other.
    boxes = np.array([[0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0]])
    scores = np.array([0.7, 0.95])
    assert nms(boxes, scores, 0.5, inclusive=True).tolist() == [1]
    assert nms(boxes, scores, 0.5, inclusive=False).tolist() == [1, 0]


def test_nms_breaks_score_ties_by_index():
    boxes = np.array([[0.0, 0.0, 2.0, 2.0]] * 3 + [[10.0, 10.0, 12.0, 12.0]])
    scores = np.array([0.8, 0.8, 0.8, 0.8])
    assert nms(boxes, scores).tolist() == [0, 3]
    assert nms(boxes[::-1].copy(), scores).tolist() == [0, 1]


def test_nms_negative_zero_score_ties_with_zero():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    scores = np.array([-0.0, 0.0])
    assert nms(boxes, scores, score_threshold=None).tolist() == [0]


def test_nms_score_threshold_is_inclusive():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0], [8, 8, 9, 9]])
    scores = np.array([0.6, 0.59999, 0.7])
    assert nms(boxes, scores).tolist() == [2, 0]


def test_nms_empty_input_returns_empty_int64():
    for kept in (nms(np.zeros((0, 4)), np.zeros(0)),
                 nms(np.array([[0.0, 0, 1, 1]]), np.array([0.1])),
                 batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)),
                 nms([], [])):
        assert kept.dtype == np.int64
        assert kept.shape == (0,)


def test_batched_nms_keeps_overlapping_boxes_of_other_classes():
    boxes = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0], [0.1, 0, 2, 2]])
    scores = np.array([0.9, 0.8, 0.7])
    classes = np.array([0, 1, 0])
    assert batched_nms(boxes, scores, classes).tolist() == [0, 1]
    assert nms(boxes, scores).tolist() == [0]


@given(scored_boxes(), THRESHOLDS, st.booleans())
def test_batched_nms_equals_nms_per_class(draw, iou_threshold, inclusive):
    boxes, scores, classes = draw
    kept = batched_nms(boxes, scores, classes, iou_threshold, 0.5, inclusive)
    merged = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        merged += members[nms(boxes[members], scores[members], iou_threshold, 0.5,
                              inclusive)].tolist()
    merged.sort(key=lambda i: (-scores[i], i))
    assert kept.tolist() == merged


@given(scored_boxes(), THRESHOLDS, st.booleans())
def test_nms_numpy_kernels_give_same_result(monkeypatch_env, draw, iou_threshold,
                                            inclusive):
    boxes, scores, classes = draw
    with_numba = batched_nms(boxes, scores, classes, iou_threshold, None, inclusive)
    monkeypatch_env.setenv("NNSCRATCH_KERNELS", "numpy")
    try:
        with_numpy = batched_nms(boxes, scores, classes, iou_threshold, None,
                                 inclusive)
    finally:
        monkeypatch_env.delenv("NNSCRATCH_KERNELS")
    np.testing.assert_array_equal(with_numba, with_numpy)


@pytest.fixture(scope="module")
def monkeypatch_env():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_nms_float32_and_int_input():
    boxes = np.array([[0, 0, 2, 2], [0, 0, 2, 1], [5, 5, 6, 6]])
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert nms(boxes, scores).tolist() == [0, 2]
    assert nms(boxes.astype(np.float16), scores).tolist() == [0, 2]


def test_nms_rejects_bad_input():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"boxes\[1\].*inverted"):
        nms(boxes, np.array([0.9, 0.8]))
    good = np.array([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="scores must have shape"):
        nms(good, np.array([0.9, 0.8]))
    with pytest.raises(ValueError, match=r"scores\[0\] is NaN"):
        nms(good, np.array([np.nan]))
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(good, np.array([0.9]), iou_threshold=1.5)
    with pytest.raises(TypeError, match="score_threshold"):
        nms(good, np.array([0.9]), score_threshold="0.5")
    with pytest.raises(ValueError, match="classes must have shape"):
        batched_nms(good, np.array([0.9]), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class"):
        batched_nms(good, np.array([0.9]), np.array([0.5]))
