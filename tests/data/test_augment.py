"""Augmentations: exact geometry on hand-made images, oracles, and seeding."""

from functools import partial

import numpy as np
import pytest
from scipy import ndimage

from nnscratch.data import augment


def batch(N=3, C=2, H=7, W=9, seed=0):
    return np.random.default_rng(seed).random((N, C, H, W)).astype(np.float32)


def test_translate_moves_content_down_and_right():
    x = batch(N=1, C=1)
    out = augment.translate(x, np.array([[2, 3]]), fill=-1.0)
    np.testing.assert_array_equal(out[0, 0, 2:, 3:], x[0, 0, :-2, :-3])
    assert (out[0, 0, :2] == -1).all()
    assert (out[0, 0, :, :3] == -1).all()


def test_translate_matches_scipy_shift():
    x = batch()
    shifts = np.array([[1, -2], [-3, 0], [0, 4]])
    out = augment.translate(x, shifts)
    for n, (dy, dx) in enumerate(shifts):
        expected = ndimage.shift(x[n], (0, dy, dx), order=0, cval=0.0)
        np.testing.assert_array_equal(out[n], expected)


def test_translate_beyond_the_image_gives_fill():
    out = augment.translate(batch(N=1), np.array([[7, 0]]), fill=0.25)
    assert (out == 0.25).all()


def test_random_translate_stays_within_max_shift():
    x = batch(N=50)
    out, shifts = augment.random_translate(x, np.random.default_rng(1), max_shift=2)
    assert shifts.shape == (50, 2)
    assert np.abs(shifts).max() <= 2
    np.testing.assert_array_equal(out, augment.translate(x, shifts))


def test_crop_cuts_the_requested_windows():
    x = batch()
    corners = np.array([[0, 0], [1, 2], [2, 4]])
    out = augment.crop(x, corners, (5, 5))
    for n, (top, left) in enumerate(corners):
        np.testing.assert_array_equal(out[n], x[n, :, top:top + 5, left:left + 5])


def test_crop_outside_the_image_is_rejected():
    with pytest.raises(ValueError, match="inside the 7x9 image"):
        augment.crop(batch(N=1), np.array([[3, 0]]), (5, 5))


def test_random_crop_with_padding_is_a_shift():
    x = batch(N=20)
    out, corners = augment.random_crop(x, np.random.default_rng(2), (7, 9), padding=2)
    assert out.shape == x.shape
    # A window starting at padded (top, left) shifts the content by
    # (padding - top, padding - left).
    np.testing.assert_array_equal(out, augment.translate(x, 2 - corners))


def test_rotate_by_90_equals_rot90():
    x = batch(H=8, W=8)
    out = augment.rotate(x, np.full(3, 90.0))
    np.testing.assert_allclose(out, np.rot90(x, axes=(2, 3)), atol=1e-6)


def test_rotate_by_0_is_identity():
    x = batch()
    np.testing.assert_allclose(augment.rotate(x, np.zeros(3)), x, atol=1e-6)


@pytest.mark.parametrize("angle", [-37.0, 12.5, 170.0])
def test_rotate_matches_scipy_rotate(angle):
    x = batch(N=1, C=1, H=9, W=12).astype(np.float64)
    out = augment.rotate(x, np.array([angle]))
    expected = ndimage.rotate(x[0, 0], angle, reshape=False, order=1,
                              mode="grid-constant", cval=0.0)
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-10)


def test_rotate_keeps_the_dtype():
    assert augment.rotate(batch(), np.ones(3)).dtype == np.float32


def test_random_rotate_draws_angles_in_range():
    _, angles = augment.random_rotate(batch(N=100), np.random.default_rng(3), 10)
    assert angles.shape == (100,)
    assert np.abs(angles).max() <= 10
    assert np.abs(angles).max() > 5  # the draws spread over the range


def test_flip_horizontal_mirrors_only_flagged_images():
    x = batch()
    out = augment.flip_horizontal(x, np.array([True, False, True]))
    np.testing.assert_array_equal(out[0], x[0, :, :, ::-1])
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(out[2], x[2, :, :, ::-1])


def test_random_flip_probability_extremes():
    x = batch()
    never, flags = augment.random_flip_horizontal(x, np.random.default_rng(0), p=0)
    np.testing.assert_array_equal(never, x)
    assert not flags.any()
    always, _ = augment.random_flip_horizontal(x, np.random.default_rng(0), p=1)
    np.testing.assert_array_equal(always, x[..., ::-1])


def test_colour_shift_is_affine_per_channel():
    x = batch(N=2, C=3)
    gains = np.array([[1.0, 0.5, 2.0], [0.9, 1.1, 1.0]])
    offsets = np.array([[0.0, 0.1, -0.2], [0.05, 0.0, 0.0]])
    out = augment.colour_shift(x, gains, offsets, clip=None)
    np.testing.assert_allclose(out[0, 1], 0.5 * x[0, 1] + 0.1, rtol=1e-6)
    np.testing.assert_allclose(out[0, 2], 2.0 * x[0, 2] - 0.2, rtol=1e-6)
    clipped = augment.colour_shift(x, gains, offsets)
    assert clipped.min() >= 0
    assert clipped.max() <= 1


def test_random_colour_shift_ranges():
    _, gains, offsets = augment.random_colour_shift(
        batch(N=40, C=3), np.random.default_rng(4), max_gain=0.2, max_offset=0.1)
    assert gains.shape == offsets.shape == (40, 3)
    assert np.abs(gains - 1).max() <= 0.2
    assert np.abs(offsets).max() <= 0.1


def test_compose_is_reproducible_from_the_seed():
    pipeline = augment.compose(
        partial(augment.random_translate, max_shift=2),
        partial(augment.random_rotate, max_degrees=15),
        augment.random_flip_horizontal,
        augment.random_colour_shift,
    )
    x = batch()
    first = pipeline(x, np.random.default_rng(5))
    second = pipeline(x, np.random.default_rng(5))
    other = pipeline(x, np.random.default_rng(6))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert first.shape == x.shape


def test_compose_rejects_non_callables():
    with pytest.raises(TypeError, match="argument 1 must be callable"):
        augment.compose(augment.random_flip_horizontal, 3)


def test_batch_without_four_dimensions_is_rejected():
    with pytest.raises(ValueError, match="NCHW"):
        augment.rotate(np.zeros((4, 4)), np.zeros(1))


def test_wrong_rng_type_is_rejected():
    with pytest.raises(TypeError, match="default_rng"):
        augment.random_rotate(batch(), np.random.RandomState(0), 10)
