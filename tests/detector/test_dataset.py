"""The embedded detection dataset meets its recipe."""

import numpy as np
import pytest

from nnscratch.detection.iou import box_iou
from nnscratch.detector import dataset
from nnscratch.detector.dataset import (
    BACKGROUND_BANDS,
    CLASS_NAMES,
    IMAGE_SIZE,
    MIN_DIGIT_ASPECT,
    embedded_split,
    generate_image,
    split_objects,
)


@pytest.fixture(scope="module")
def train():
    return embedded_split("train", size=150)


def test_images_are_deterministic():
    first = generate_image("test", 3)
    second = generate_image("test", 3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_boxes_lie_inside_the_image(train):
    for boxes in train.boxes:
        assert (boxes[:, 0] >= 0).all()
        assert (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= IMAGE_SIZE).all()
        assert (boxes[:, 3] <= IMAGE_SIZE).all()
        assert (boxes[:, 2] > boxes[:, 0]).all()
        assert (boxes[:, 3] > boxes[:, 1]).all()


def test_recipe_properties(train):
    counts = np.array([len(b) for b in train.boxes])
    heights = np.concatenate([b[:, 3] - b[:, 1] for b in train.boxes])
    labels = np.concatenate(train.labels)

    assert len(CLASS_NAMES) >= 3
    assert set(labels) == set(range(len(CLASS_NAMES)))
    assert counts.min() >= 2
    assert counts.mean() > 2.5
    assert heights.max() / heights.min() >= 3.5
    overlapping = sum(
        ((box_iou(b, b) - np.eye(len(b))) > 0).any() for b in train.boxes)
    assert overlapping >= 5


def test_digit_boxes_are_widened_to_the_minimum_aspect(train):
    boxes = np.concatenate(train.boxes)
    labels = np.concatenate(train.labels)
    digits = boxes[labels != CLASS_NAMES.index("face")]
    widths, heights = digits[:, 2] - digits[:, 0], digits[:, 3] - digits[:, 1]
    # Widths are rounded to whole pixels after scaling, so allow one pixel.
    assert (widths >= MIN_DIGIT_ASPECT * heights - 1).all()
    ones = boxes[labels == CLASS_NAMES.index("one")]
    aspect = (ones[:, 2] - ones[:, 0]) / (ones[:, 3] - ones[:, 1])
    assert np.median(aspect) == pytest.approx(MIN_DIGIT_ASPECT, abs=0.05)


def test_widened_digit_keeps_its_ink_centred():
    ink = np.zeros((20, 3), np.float32)
    ink[:, 1] = 1.0
    wide = dataset._widen(ink)
    assert wide.shape == (20, 10)
    assert wide.sum() == ink.sum()
    assert np.flatnonzero(wide.sum(axis=0)).tolist() == [4]
    square = np.ones((10, 8), np.float32)
    assert dataset._widen(square) is square


def test_object_crops_do_not_cross_splits():
    def fingerprints(split):
        return {name: {crop.tobytes() for crop, _ in crops}
                for name, crops in split_objects(split).items()}

    train, val, test = (fingerprints(s) for s in ("train", "val", "test"))
    for name in CLASS_NAMES:
        assert not train[name] & test[name]
        assert not train[name] & val[name]
        assert not val[name] & test[name]
        assert test[name]


def test_background_bands_do_not_overlap():
    bands = sorted(BACKGROUND_BANDS.values())
    for (_, end), (start, _) in zip(bands, bands[1:]):
        assert end <= start


def test_backgrounds_are_cut_from_their_band(monkeypatch):
    # Replace each photograph by its column index, so every background pixel
    # tells which column of the photograph it came from.
    columns = np.tile(np.arange(1000, dtype=np.float64)[None, :, None], (600, 1, 3))
    photos = [columns.astype(np.float32)]
    monkeypatch.setattr(dataset, "_photographs", lambda: photos)
    monkeypatch.setattr(dataset, "BACKGROUND_PHOTOS", ("columns",))
    captured = []

    def fake_fromarray(array):
        captured.append(array)
        raise StopIteration

    monkeypatch.setattr(dataset.Image, "fromarray", fake_fromarray)
    for split, (low, high) in BACKGROUND_BANDS.items():
        for index in range(20):
            captured.clear()
            with pytest.raises(StopIteration):
                dataset._background(np.random.default_rng(index), split)
            crop = captured[0][..., 0]
            assert crop.min() >= low * 1000
            assert crop.max() < high * 1000
