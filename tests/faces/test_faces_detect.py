"""Face detection: the convolutional pass, box geometry and the shipped weights."""

import numpy as np
import pytest
import skimage.data

from nnscratch.faces import data
from nnscratch.faces.detect import (
    DEFAULT_THRESHOLD,
    FaceDetector,
    cells_to_boxes_xyxy,
    load_face_detector,
    pyramid_shapes,
)
from nnscratch.faces.model import build_face_classifier, face_probability

# The astronaut's face in skimage.data.astronaut() (512 x 512), annotated by
# hand from an enlarged crop: left and right cheek edges, hairline, chin.
# (x1, y1, x2, y2) in pixels.
ASTRONAUT_FACE_XYXY = (179, 82, 269, 179)


def iou_xyxy(a, b):
    """IoU of two boxes, written out here so the test does not trust the library."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def naive_window_logits(classifier, image, window, stride):
    """Classify every window crop by crop: the slow reference."""
    H, W = image.shape
    rows = (H - window) // stride + 1
    cols = (W - window) // stride + 1
    logits = np.empty((2, rows, cols), classifier.parameters()[0].data.dtype)
    for i in range(rows):
        for j in range(cols):
            crop = image[i * stride:i * stride + window, j * stride:j * stride + window]
            logits[:, i, j] = classifier.forward(crop[None, None])[0]
    return logits


@pytest.fixture(scope="module")
def shipped_detector():
    return load_face_detector()


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_convolutional_pass_equals_crop_classifier(dtype, tolerance):
    rng = np.random.default_rng(3)
    classifier = build_face_classifier(rng=rng).astype(dtype).eval()
    # Larger weights than the initialisation, so the logits are far from 0.
    for parameter in classifier.parameters():
        parameter.data[...] *= 3
    image = rng.random((45, 58)).astype(dtype)
    detector = FaceDetector(classifier)

    logits = detector.network.forward(image[None, None])[0]
    expected = naive_window_logits(classifier, image, 24, 4)

    assert logits.shape == (2, (45 - 24) // 4 + 1, (58 - 24) // 4 + 1)
    np.testing.assert_allclose(logits, expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(detector.score_level(image),
                               face_probability(expected[None])[0],
                               rtol=tolerance, atol=tolerance)


def test_face_probability_is_stable_softmax():
    logits = np.array([[0.0, 0.0], [1000.0, -1000.0], [-1000.0, 1000.0], [2.0, 5.0]])
    probability = face_probability(logits)
    expected_last = np.exp(5.0) / (np.exp(2.0) + np.exp(5.0))

    assert np.all(np.isfinite(probability))
    np.testing.assert_allclose(probability, [0.5, 0.0, 1.0, expected_last], atol=1e-12)


def test_cells_map_to_level_windows():
    boxes = cells_to_boxes_xyxy(np.array([0, 2]), np.array([0, 3]), (100, 80),
                                (100, 80))
    np.testing.assert_array_equal(boxes, [[0, 0, 24, 24], [12, 8, 36, 32]])


def test_cells_scale_back_to_photograph():
    # A level shrunk by 2 in height and 4 in width.
    boxes = cells_to_boxes_xyxy(np.array([1]), np.array([1]), (50, 30), (100, 120))
    np.testing.assert_allclose(boxes, [[4 * 4, 4 * 2, 28 * 4, 28 * 2]])


def test_pyramid_levels_step_by_scale_ratio():
    shapes = pyramid_shapes(300, 400, window=24, min_size=30, scale_step=1.5)
    # Level k searches faces of side 30 * 1.5**k, so it shrinks by 24 / that.
    expected = []
    for k in range(10):
        shrink = 24 / (30 * 1.5**k)
        shape = (round(300 * shrink), round(400 * shrink))
        if min(shape) < 24 or 30 * 1.5**k > 300:
            break
        expected.append(shape)

    assert shapes[0] == (240, 320)
    assert shapes == expected
    assert len(shapes) == 6


def test_pyramid_rejects_scale_step_of_one():
    with pytest.raises(ValueError, match="scale_step"):
        pyramid_shapes(100, 100, scale_step=1.0)


def test_detect_rejects_image_smaller_than_window(shipped_detector):
    with pytest.raises(ValueError, match="smaller than the 24-pixel window"):
        shipped_detector.detect(np.zeros((20, 40), np.float32))


def test_detect_rejects_threshold_out_of_range(shipped_detector):
    with pytest.raises(ValueError, match="threshold"):
        shipped_detector.detect(np.zeros((40, 40), np.float32), threshold=1.5)


def test_shipped_detector_finds_astronaut_face(shipped_detector):
    boxes, scores = shipped_detector.detect(skimage.data.astronaut())
    overlaps = [iou_xyxy(box, ASTRONAUT_FACE_XYXY) for box in boxes]
    false_positives = [box for box, iou in zip(boxes, overlaps) if iou < 0.5]

    assert max(overlaps, default=0.0) >= 0.5
    assert len(false_positives) <= 1
    assert np.all(scores >= DEFAULT_THRESHOLD)
    assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("name", data.EVALUATION_PHOTOGRAPHS)
def test_shipped_detector_silent_on_face_free_photograph(shipped_detector, name):
    boxes, scores = shipped_detector.detect(getattr(skimage.data, name)())

    assert boxes.shape == (0, 4)
    assert scores.shape == (0,)


def test_kept_boxes_overlap_below_iou_threshold(shipped_detector):
    boxes, scores = shipped_detector.detect(skimage.data.astronaut(), threshold=0.3,
                                            iou_threshold=0.3)

    assert len(boxes) >= 2
    assert np.all(np.diff(scores) <= 0)
    for first in range(len(boxes)):
        for second in range(first + 1, len(boxes)):
            assert iou_xyxy(boxes[first], boxes[second]) < 0.3
