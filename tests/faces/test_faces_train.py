"""Training the face classifier: a tiny run, hard-negative mining, checkpoints."""

import numpy as np
import pytest

from nnscratch.faces import data
from nnscratch.faces.detect import FaceDetector, load_face_detector
from nnscratch.faces.model import FACE_CLASS, build_face_classifier
from nnscratch.faces.train import (
    mine_hard_negatives,
    save_face_classifier,
    train_face_classifier,
)
from nnscratch.zoo import build_model, model_spec


def tiny_photographs():
    rng = np.random.default_rng(0)
    return [data.load_photograph("coins")[:64, :96],
            rng.random((48, 48)).astype(np.float32)]


def test_tiny_training_run_lowers_loss_and_reloads(tmp_path):
    model, log = train_face_classifier(
        seed=0, rounds=2, epochs_per_round=2, positives=256, negatives=512,
        random_windows=64, textures=2, photographs=tiny_photographs(),
        max_hard_per_photo=20)
    path = save_face_classifier(tmp_path / "faces.npz", model, 0, {"rounds": 2}, log)
    detector = load_face_detector(path)
    image = data.load_photograph("coins")[:48, :48]

    assert len(log) == 4
    assert log[-1]["loss"] < log[0]["loss"]
    assert [entry["round"] for entry in log] == [0, 0, 1, 1]
    np.testing.assert_allclose(detector.score_level(image),
                               FaceDetector(model).score_level(image), atol=1e-6)


def test_training_rejects_zero_rounds():
    with pytest.raises(ValueError, match="rounds"):
        train_face_classifier(rounds=0)


def test_mining_keeps_every_false_positive():
    classifier = build_face_classifier(rng=np.random.default_rng(0)).eval()
    # A large face bias makes every window a false positive.
    classifier.layers[-1].params["bias"][FACE_CLASS] = 1e3
    detector = FaceDetector(classifier)
    photo = np.random.default_rng(1).random((32, 36)).astype(np.float32)

    windows, found = mine_hard_negatives(detector, [photo], threshold=0.5,
                                         max_per_photo=100, min_size=24)

    # Levels of a 32 x 36 photo: 32x36 (3x4 cells) and 27x30 (1x2 cells).
    assert found == 3 * 4 + 1 * 2
    assert windows.shape == (found, 24, 24)
    np.testing.assert_array_equal(windows[0], photo[:24, :24])


def test_mining_caps_windows_per_photograph():
    classifier = build_face_classifier(rng=np.random.default_rng(0)).eval()
    classifier.layers[-1].params["bias"][FACE_CLASS] = 1e3
    photo = np.random.default_rng(1).random((40, 40)).astype(np.float32)

    windows, found = mine_hard_negatives(FaceDetector(classifier), [photo], 0.5,
                                         max_per_photo=3, min_size=24)

    assert found > 3
    assert len(windows) == 3


def test_registered_builder_matches_checkpoint_spec():
    model = build_model(model_spec("faces", window=24))

    assert model.output_shape((5, 1, 24, 24)) == (5, 2)


def test_builder_rejects_window_not_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        build_face_classifier(window=26)
