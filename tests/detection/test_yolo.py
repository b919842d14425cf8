"""YOLO target encoding, output layout and decoding."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnscratch.detection import (
    yolo_decode,
    yolo_decode_targets,
    yolo_encode,
    yolo_grid_to_output,
    yolo_output_to_grid,
)

# A tall anchor (pedestrian) and a wide one (car), in cell units.
PEDESTRIAN_CAR_ANCHORS = np.array([[0.5, 1.2], [1.8, 0.8]])


def logit(p):
    return np.log(p) - np.log1p(-p)


def raw_output_from_targets(targets, anchors, confidence=30.0):
    """Invert the parametrisation: logits whose decoded boxes are the targets."""
    raw = np.full(targets.shape, -confidence)  # (N, GH, GW, A, 5 + K)
    present = targets[..., 0] == 1
    slots = targets[present]
    anchor_of_slot = np.broadcast_to(np.arange(anchors.shape[0]),
                                     targets.shape[:-1])[present]
    raw[present, 0] = confidence
    raw[present, 1] = logit(slots[:, 1])
    raw[present, 2] = logit(slots[:, 2])
    raw[present, 3] = np.log(slots[:, 3] / anchors[anchor_of_slot, 1])
    raw[present, 4] = np.log(slots[:, 4] / anchors[anchor_of_slot, 0])
    raw[present, 5:] = np.where(slots[:, 5:] == 1, confidence, -confidence)
    return yolo_grid_to_output(raw)


def test_yolo_encode_car_example():
    # The car of the YOLO example in Andrew Ng's course on convolutional
    # networks. 300 x 300 image, 3 x 3 grid: cells are 100 pixels. The car's
    # centre is in row 2, column 1 at offsets (0.7, 0.7). It is 1.9 cells
    # wide and 0.8 high, and its class is the second of three (car).
    cx, cy, w, h = 170.0, 270.0, 190.0, 80.0
    box = np.array([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])
    target, collisions = yolo_encode(box, np.array([1]), (300, 300), 3,
                                     PEDESTRIAN_CAR_ANCHORS, 3)
    assert target.shape == (3, 3, 2, 8)
    assert collisions == 0
    np.testing.assert_allclose(target[2, 1, 1], [1, 0.7, 0.7, 0.8, 1.9, 0, 1, 0],
                               atol=1e-12)
    others = np.ones((3, 3, 2), dtype=bool)
    others[2, 1, 1] = False
    assert (target[others] == 0).all()


def test_yolo_encode_centre_on_far_edge_goes_to_last_cell():
    # Cells are 25 pixels; the centre (100, 100) lies on the far corner.
    edge = np.array([[90.0, 90.0, 110.0, 110.0]])
    target, _ = yolo_encode(edge, np.array([1]), (100, 100), 4, [[0.8, 0.8]], 2)
    last = target[3, 3, 0]
    assert last[0] == 1
    assert last[1] == 1.0
    assert last[2] == 1.0
    assert last[6] == 1
    assert target[..., 0].sum() == 1


def test_yolo_encode_picks_best_anchor_by_shape():
    anchors = np.array([[1.0, 3.0], [3.0, 1.0], [2.0, 2.0]])
    tall = np.array([[10.0, 0.0, 20.0, 30.0]])
    wide = np.array([[40.0, 40.0, 70.0, 50.0]])
    target, _ = yolo_encode(np.concatenate([tall, wide]), np.array([0, 0]),
                            (100, 100), 10, anchors, 1)
    assert target[1, 1, 0, 0] == 1  # tall box, centre (15, 15)
    assert target[4, 5, 1, 0] == 1  # wide box, centre (55, 45)
    assert target[..., 0].sum() == 2


def test_yolo_encode_reports_collisions():
    boxes = np.array([[10.0, 10.0, 20.0, 20.0], [11.0, 11.0, 21.0, 21.0]])
    with pytest.warns(UserWarning, match=r"boxes\[1\].*already taken"):
        target, collisions = yolo_encode(boxes, np.array([0, 1]), (100, 100), 2,
                                         [[1.0, 1.0]], 2)
    assert collisions == 1
    # The first box keeps the slot.
    assert target[0, 0, 0, 5] == 1
    assert target[0, 0, 0, 6] == 0


def test_yolo_encode_non_square_grid_and_image():
    box = np.array([[30.0, 10.0, 50.0, 30.0]])  # centre (40, 20)
    target, _ = yolo_encode(box, np.array([0]), (40, 80), (2, 4), [[1.0, 1.0]], 1)
    assert target.shape == (2, 4, 1, 6)
    # Cells are 20 x 20: column 2, row 1, offsets (0, 0), 1 cell wide and high.
    np.testing.assert_allclose(target[1, 2, 0], [1, 0, 0, 1, 1, 1])


def test_yolo_encode_rejects_bad_boxes():
    with pytest.raises(ValueError, match="outside the image"):
        yolo_encode(np.array([[90.0, 90.0, 130.0, 130.0]]), np.array([0]),
                    (100, 100), 2, [[1.0, 1.0]], 1)
    with pytest.raises(ValueError, match="zero width"):
        yolo_encode(np.array([[10.0, 10.0, 10.0, 20.0]]), np.array([0]),
                    (100, 100), 2, [[1.0, 1.0]], 1)
    with pytest.raises(ValueError, match="labels must be in"):
        yolo_encode(np.array([[10.0, 10.0, 20.0, 20.0]]), np.array([3]),
                    (100, 100), 2, [[1.0, 1.0]], 3)
    with pytest.raises(ValueError, match="anchors"):
        yolo_encode(np.array([[10.0, 10.0, 20.0, 20.0]]), np.array([0]),
                    (100, 100), 2, [[1.0, 0.0]], 1)


@st.composite
def one_box_per_cell(draw, grid=4, image=128.0):
    """Draw boxes whose centres fall in distinct cells, with their labels."""
    cells = draw(st.lists(st.integers(0, grid * grid - 1), unique=True,
                          min_size=0, max_size=6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cell = image / grid
    boxes = []
    for index in cells:
        row, col = divmod(index, grid)
        cx = (col + rng.uniform(0.05, 0.95)) * cell
        cy = (row + rng.uniform(0.05, 0.95)) * cell
        w, h = rng.uniform(4, 80, 2)
        boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    labels = rng.integers(0, 3, len(boxes))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels


ANCHORS = np.array([[0.5, 0.5], [1.0, 2.0], [2.0, 1.0]])


def sort_rows(boxes, labels):
    order = np.lexsort(boxes.T[::-1])
    return boxes[order], labels[order]


@given(one_box_per_cell())
def test_yolo_encode_then_decode_targets_returns_boxes(draw):
    boxes, labels = draw
    target, collisions = yolo_encode(boxes, labels, (128, 128), 4, ANCHORS, 3)
    assert collisions == 0
    decoded = yolo_decode_targets(target, (128, 128))
    got_boxes, got_labels = sort_rows(decoded["boxes"], decoded["labels"])
    want_boxes, want_labels = sort_rows(boxes, labels)
    np.testing.assert_allclose(got_boxes, want_boxes, atol=1e-9)
    np.testing.assert_array_equal(got_labels, want_labels)


@given(one_box_per_cell())
def test_yolo_encode_then_decode_raw_output_returns_boxes(draw):
    boxes, labels = draw
    target, _ = yolo_encode(boxes, labels, (128, 128), 4, ANCHORS, 3)
    output = raw_output_from_targets(target[None], ANCHORS)
    assert output.shape == (1, 3 * 8, 4, 4)
    [detections] = yolo_decode(output, (128, 128), ANCHORS, iou_threshold=1.0)
    got_boxes, got_labels = sort_rows(detections["boxes"], detections["labels"])
    want_boxes, want_labels = sort_rows(boxes, labels)
    np.testing.assert_allclose(got_boxes, want_boxes, atol=1e-6)
    np.testing.assert_array_equal(got_labels, want_labels)
    np.testing.assert_allclose(detections["scores"], 1.0, atol=1e-9)


def test_yolo_output_layout_channel_order():
    N, A, D, GH, GW = 2, 3, 7, 4, 5
    output = np.arange(N * A * D * GH * GW, dtype=np.float64).reshape(N, A * D, GH, GW)
    grid = yolo_output_to_grid(output, A)
    assert grid.shape == (N, GH, GW, A, D)
    # Channel a * D + j of pixel (row, col) is entry j of anchor a.
    assert grid[1, 2, 3, 2, 4] == output[1, 2 * D + 4, 2, 3]
    np.testing.assert_array_equal(yolo_grid_to_output(grid), output)


def test_yolo_output_to_grid_rejects_bad_channels():
    with pytest.raises(ValueError, match="channels"):
        yolo_output_to_grid(np.zeros((1, 13, 2, 2)), 2)


def test_yolo_decode_scores_are_pc_times_class_probability():
    anchors = np.array([[1.0, 1.0]])
    raw = np.full((1, 2, 2, 1, 8), -30.0)  # K = 3
    raw[0, 0, 1, 0, :5] = [logit(0.9), 0.0, 0.0, 0.0, 0.0]
    raw[0, 0, 1, 0, 5:] = np.log([0.1, 0.7, 0.2])  # softmax gives 0.1, 0.7, 0.2
    [detections] = yolo_decode(yolo_grid_to_output(raw), (64, 64), anchors,
                               score_threshold=0.5)
    assert detections["labels"].tolist() == [1]
    assert detections["scores"][0] == pytest.approx(0.9 * 0.7)
    # Cell (row 0, column 1) of 32 pixels; offset 0.5, size 1 cell.
    np.testing.assert_allclose(detections["boxes"], [[32, 0, 64, 32]])

    [sigmoid_detections] = yolo_decode(yolo_grid_to_output(raw), (64, 64), anchors,
                                       score_threshold=0.3,
                                       class_activation="sigmoid")
    expected = 0.9 / (1 + np.exp(-np.log(0.7)))
    assert sigmoid_detections["scores"][0] == pytest.approx(expected)


def test_yolo_decode_runs_nms_per_class():
    anchors = np.array([[2.0, 2.0], [2.0, 2.0]])
    raw = np.full((1, 2, 2, 2, 6 + 1), -30.0)  # K = 2
    for a, label in ((0, 0), (1, 1)):
        raw[0, 0, 0, a, :5] = [30.0, 0.0, 0.0, 0.0, 0.0]
        raw[0, 0, 0, a, 5 + label] = 30.0
    raw[0, 1, 1, 0, :5] = [2.0, 0.0, 0.0, 0.0, 0.0]  # same class 0, overlaps
    raw[0, 1, 1, 0, 5] = 30.0
    output = yolo_grid_to_output(raw)
    [detections] = yolo_decode(output, (20, 20), anchors, score_threshold=0.5,
                               iou_threshold=0.1)
    assert sorted(detections["labels"].tolist()) == [0, 1]
    [loose] = yolo_decode(output, (20, 20), anchors, score_threshold=0.5,
                          iou_threshold=1.0)
    assert sorted(loose["labels"].tolist()) == [0, 0, 1]
    [capped] = yolo_decode(output, (20, 20), anchors, score_threshold=0.5,
                           iou_threshold=1.0, max_detections=2)
    assert len(capped["scores"]) == 2


def test_yolo_decode_untrained_output_is_finite():
    output = np.random.default_rng(0).standard_normal((2, 2 * 7, 3, 3)) * 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detections = yolo_decode(output, (96, 96), [[1.0, 1.0], [2.0, 1.0]],
                                 score_threshold=0.0)
    for image in detections:
        assert np.isfinite(image["boxes"]).all()
