"""The YOLO loss on raw outputs and its gradient."""

import numpy as np
import pytest

from gradcheck import numerical_gradient, relative_error
from nnscratch.detection import (
    yolo_encode,
    yolo_grid_to_output,
    yolo_loss,
    yolo_loss_terms,
)
from nnscratch.detection.yolo_loss import overlaps_an_object

ANCHORS = np.array([[0.6, 0.6], [1.5, 0.8]])
IMAGE = (64, 64)
GRID = 4
K = 3


def make_batch(seed=0):
    """Return (output (2, A * (5 + K), 4, 4), targets (2, 4, 4, A, 5 + K))."""
    rng = np.random.default_rng(seed)
    targets = []
    for boxes in (
        np.array([[4.0, 6.0, 14.0, 20.0], [30.0, 30.0, 60.0, 44.0]]),
        np.array([[40.0, 2.0, 52.0, 12.0]]),
    ):
        labels = rng.integers(0, K, len(boxes))
        target, _ = yolo_encode(boxes, labels, IMAGE, GRID, ANCHORS, K)
        targets.append(target)
    targets = np.stack(targets)
    output = rng.standard_normal((2, len(ANCHORS) * (5 + K), GRID, GRID))
    return output, targets


@pytest.mark.parametrize("class_activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("weights", [
    {},
    {"lambda_coord": 2.0, "lambda_noobj": 0.25, "lambda_obj": 3.0,
     "lambda_class": 0.5},
])
def test_yolo_loss_gradient_matches_central_differences(class_activation, weights):
    output, targets = make_batch()
    loss, doutput = yolo_loss(output, targets, ANCHORS,
                              class_activation=class_activation, **weights)
    assert doutput.shape == output.shape
    numeric = numerical_gradient(
        lambda o: yolo_loss(o, targets, ANCHORS, class_activation=class_activation,
                            **weights)[0],
        output)
    # Smooth loss in float64 with eps = 1e-6: errors are about 1e-9.
    assert relative_error(doutput, numeric) < 1e-6


def test_yolo_loss_terms_sum_to_loss():
    output, targets = make_batch(1)
    terms, dterms = yolo_loss_terms(output, targets, ANCHORS)
    loss, doutput = yolo_loss(output, targets, ANCHORS)
    assert set(terms) == {"object", "no_object", "xy", "size", "class"}
    assert sum(terms.values()) == pytest.approx(loss)
    np.testing.assert_array_equal(dterms, doutput)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_yolo_loss_hand_value_one_object():
    # One image, a 1 x 1 grid, one anchor, two classes.
    target = np.zeros((1, 1, 1, 1, 7))
    target[0, 0, 0, 0] = [1, 0.25, 0.5, 2.0, 0.5, 0, 1]
    raw = np.array([0.3, -0.2, 0.1, 0.4, -0.5, 1.0, 2.0])
    output = yolo_grid_to_output(raw.reshape(1, 1, 1, 1, 7))
    anchors = np.array([[1.0, 1.0]])  # (w, h)
    loss, _ = yolo_loss(output, target, anchors)

    obj = (sigmoid(0.3) - 1) ** 2
    xy = (sigmoid(-0.2) - 0.25) ** 2 + (sigmoid(0.1) - 0.5) ** 2
    size = (0.4 - np.log(2.0)) ** 2 + (-0.5 - np.log(0.5)) ** 2
    log_probs = np.array([1.0, 2.0]) - np.log(np.exp(1.0) + np.exp(2.0))
    expected = obj + 5 * xy + 5 * size - log_probs[1]
    assert loss == pytest.approx(expected, rel=1e-12)


def test_yolo_loss_without_objects_is_noobj_only():
    output = np.random.default_rng(2).standard_normal((1, 2 * 8, 3, 3))
    targets = np.zeros((1, 3, 3, 2, 8))
    terms, doutput = yolo_loss_terms(output, targets, ANCHORS)
    p = sigmoid(output.reshape(1, 2, 8, 3, 3)[:, :, 0])
    assert terms["no_object"] == pytest.approx(0.5 * (p**2).sum())
    assert terms["object"] == terms["xy"] == terms["size"] == terms["class"] == 0
    # Only the objectness channels (0 and 8) receive gradient.
    channels = np.abs(doutput).sum(axis=(0, 2, 3))
    assert (channels[[0, 8]] > 0).all()
    assert (np.delete(channels, [0, 8]) == 0).all()


def test_yolo_loss_ignores_box_and_class_of_empty_slots():
    output, targets = make_batch(3)
    loss, _ = yolo_loss(output, targets, ANCHORS)
    empty = targets[..., 0] == 0  # (N, GH, GW, A)
    grid = output.reshape(2, 2, 8, GRID, GRID).transpose(0, 3, 4, 1, 2).copy()
    grid[..., 1:][empty] += 5.0
    moved = yolo_grid_to_output(grid)
    assert yolo_loss(moved, targets, ANCHORS)[0] == pytest.approx(loss, rel=1e-12)


def test_yolo_loss_keeps_float32():
    output, targets = make_batch(4)
    loss, doutput = yolo_loss(output.astype(np.float32), targets, ANCHORS)
    assert doutput.dtype == np.float32
    assert np.isfinite(loss)


def test_yolo_loss_rejects_mismatched_target():
    output, targets = make_batch(5)
    with pytest.raises(ValueError, match="target must have shape"):
        yolo_loss(output, targets[:1], ANCHORS)
    with pytest.raises(ValueError, match="channels"):
        yolo_loss(output[:, :-1], targets, ANCHORS)
    with pytest.raises(ValueError, match="class_activation"):
        yolo_loss(output, targets, ANCHORS, class_activation="relu")
    bad = targets.copy()
    bad[0, 0, 0, 0, 0] = 0.5
    with pytest.raises(ValueError, match="pc"):
        yolo_loss(output, bad, ANCHORS)


def brute_force_overlaps(output, targets, ignore_iou):
    """Loop over every slot and object: the ignore rule written out by hand."""
    n, _, gh, gw = output.shape
    a = len(ANCHORS)
    grid = output.reshape(n, a, 5 + K, gh, gw)
    mask = np.zeros((n, gh, gw, a), dtype=bool)
    for image in range(n):
        objects = []
        for row, col, anchor in zip(*np.nonzero(targets[image, ..., 0])):
            _, bx, by, bh, bw = targets[image, row, col, anchor, :5]
            objects.append((col + bx, row + by, bw, bh))
        for row in range(gh):
            for col in range(gw):
                for anchor in range(a):
                    tx, ty, th, tw = grid[image, anchor, 1:5, row, col]
                    box = (col + sigmoid(tx), row + sigmoid(ty),
                           ANCHORS[anchor, 0] * np.exp(tw),
                           ANCHORS[anchor, 1] * np.exp(th))
                    mask[image, row, col, anchor] = any(
                        centre_iou(box, other) > ignore_iou for other in objects)
    return mask


def centre_iou(first, second):
    """IoU of two (cx, cy, w, h) boxes."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = first, second
    overlap_w = max(0.0, min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2))
    overlap_h = max(0.0, min(y1 + h1 / 2, y2 + h2 / 2) - max(y1 - h1 / 2, y2 - h2 / 2))
    inter = overlap_w * overlap_h
    return inter / (w1 * h1 + w2 * h2 - inter)


@pytest.mark.parametrize("seed", [0, 5, 6])
def test_ignore_mask_matches_brute_force(seed):
    output, targets = make_batch(seed)
    output *= 0.3  # boxes near their anchors, so that some overlap the objects
    grid = output.reshape(2, 2, 8, GRID, GRID).transpose(0, 3, 4, 1, 2)
    obj = targets[..., 0] == 1
    mask = overlaps_an_object(grid, targets, ANCHORS, obj, 0.3)
    expected = brute_force_overlaps(output, targets, 0.3)
    np.testing.assert_array_equal(mask, expected)
    assert expected.any()
    assert not expected.all()


def test_ignored_slots_leave_the_no_object_term():
    output, targets = make_batch(0)
    output *= 0.3
    plain, _ = yolo_loss_terms(output, targets, ANCHORS)
    ignoring, _ = yolo_loss_terms(output, targets, ANCHORS, ignore_iou=0.3)
    expected = brute_force_overlaps(output, targets, 0.3) & (targets[..., 0] == 0)
    p = sigmoid(output.reshape(2, 2, 8, GRID, GRID)[:, :, 0]).transpose(0, 2, 3, 1)
    assert plain["no_object"] - ignoring["no_object"] == pytest.approx(
        0.5 * (p[expected] ** 2).sum() / 2)
    for name in ("object", "xy", "size", "class"):
        assert ignoring[name] == plain[name]


def test_ignore_rule_gradient_matches_central_differences():
    output, targets = make_batch(5)
    output *= 0.3
    loss, doutput = yolo_loss(output, targets, ANCHORS, ignore_iou=0.3)
    numeric = numerical_gradient(
        lambda o: yolo_loss(o, targets, ANCHORS, ignore_iou=0.3)[0], output)
    # The mask is constant unless a step of 1e-6 moves an IoU across 0.3,
    # which these outputs do not do.
    assert relative_error(doutput, numeric) < 1e-6


@pytest.mark.parametrize("ignore_iou", [0.0, 1.0, -0.5])
def test_ignore_iou_out_of_range_is_rejected(ignore_iou):
    output, targets = make_batch(0)
    with pytest.raises(ValueError, match="ignore_iou"):
        yolo_loss(output, targets, ANCHORS, ignore_iou=ignore_iou)
