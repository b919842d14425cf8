"""Face and non-face windows: warping, augmentation, photographs, textures."""

import numpy as np
import pytest

from nnscratch.faces import data


def test_warp_without_change_is_identity():
    rng = np.random.default_rng(0)
    crops = rng.random((3, 24, 24)).astype(np.float32)
    windows = data.center_windows(crops, window=24)

    np.testing.assert_allclose(windows, crops, atol=1e-6)


def test_warp_flip_mirrors_columns():
    rng = np.random.default_rng(1)
    crops = rng.random((2, 24, 24)).astype(np.float32)
    flipped = data.warp_windows(crops, np.ones(2), np.zeros(2), np.zeros((2, 2)),
                                np.ones(2, bool), window=24)

    np.testing.assert_allclose(flipped, crops[:, :, ::-1], atol=1e-6)


def test_warp_quarter_turn_rotates():
    rng = np.random.default_rng(2)
    crops = rng.random((1, 24, 24)).astype(np.float32)
    turned = data.warp_windows(crops, np.ones(1), np.full(1, np.pi / 2),
                               np.zeros((1, 2)), np.zeros(1, bool), window=24)

    # Some quarter turn of the crop, within interpolation rounding.
    candidates = [np.rot90(crops[0], k) for k in (1, 3)]
    assert min(np.abs(turned[0] - c).max() for c in candidates) < 1e-5


def test_augmented_faces_shape_dtype_range():
    faces, _, _, _ = data.lfw_split()
    windows = data.augment_faces(faces, 50, np.random.default_rng(0))

    assert windows.shape == (50, data.FACE_WINDOW, data.FACE_WINDOW)
    assert windows.dtype == np.float32
    assert windows.min() >= 0
    assert windows.max() <= 1


def test_augmentation_is_seeded():
    faces, _, _, _ = data.lfw_split()
    first = data.augment_faces(faces, 8, np.random.default_rng(5))
    second = data.augment_faces(faces, 8, np.random.default_rng(5))

    np.testing.assert_array_equal(first, second)


def test_lfw_split_keeps_classes_apart():
    train_faces, train_nonfaces, val_faces, val_nonfaces = data.lfw_split(10)

    assert train_faces.shape == (90, 25, 25)
    assert val_faces.shape == (10, 25, 25)
    assert train_nonfaces.shape == (90, 25, 25)
    assert val_nonfaces.shape == (10, 25, 25)


def test_photograph_groups_are_disjoint_and_face_free():
    training = set(data.TRAINING_PHOTOGRAPHS)
    evaluation = set(data.EVALUATION_PHOTOGRAPHS)

    assert not training & evaluation
    assert not (training | evaluation) & {"astronaut", "camera"}


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_photographs_with_faces_are_rejected(name):
    with pytest.raises(ValueError, match="shows a face"):
        data.load_photograph(name)


def test_unknown_photograph_is_rejected():
    with pytest.raises(ValueError, match="unknown photograph"):
        data.load_photograph("no_such_image")


@pytest.mark.parametrize("name", ["motorcycle_left", "sklearn_china", "coins"])
def test_photograph_loads_grey(name):
    photo = data.load_photograph(name)

    assert photo.ndim == 2
    assert photo.dtype == np.float32
    assert photo.min() >= 0
    assert photo.max() <= 1


def test_random_photo_windows_shape_and_range():
    rng = np.random.default_rng(0)
    photos = [rng.random((60, 80)).astype(np.float32)]
    windows = data.random_photo_windows(photos, 10, rng)

    assert windows.shape == (10, 24, 24)
    assert windows.min() >= 0
    assert windows.max() <= 1


def test_dead_leaves_fill_every_pixel():
    texture = data.dead_leaves_texture(48, np.random.default_rng(0), shading=0.4)

    assert texture.shape == (48, 48)
    assert not np.isnan(texture).any()
    assert texture.min() >= 0
    assert texture.max() <= 1


def test_pink_noise_spectrum_falls_with_frequency():
    texture = data.pink_noise_texture(64, np.random.default_rng(0), exponent=2.0)
    power = np.abs(np.fft.fft2(texture - texture.mean())) ** 2

    assert texture.shape == (64, 64)
    # Low frequencies carry much more power than high ones.
    assert power[1:4, 1:4].mean() > 10 * power[28:36, 28:36].mean()


def test_to_grey_rejects_bad_shape():
    with pytest.raises(ValueError, match="to_grey"):
        data.to_grey(np.zeros((4, 4, 2)))
