"""The patch benchmark's recipe: regions, view geometry, photometry and split."""

import dataclasses

import numpy as np
import pytest

from nnscratch.siamese.patches import (
    EVAL_PHOTOGRAPHS,
    PATCH_RECIPE_VERSION,
    TRAIN_PHOTOGRAPHS,
    PatchRecipe,
    find_regions,
    load_benchmark_photograph,
    load_patch_sets,
    make_patch_set,
    random_photometric,
    random_view_maps,
    sample_patches,
)

# A small recipe keeps the tests fast: few regions, few views.
SMALL = PatchRecipe(regions_per_photograph=3, train_views=2, eval_views=2)


def distinct_photograph(H=20, W=24):
    return np.arange(H * W, dtype=np.float64).reshape(H, W)


def test_identity_map_copies_window():
    photograph = distinct_photograph()
    # An even patch of side 4 centred at (5.5, 6.5) covers rows 4-7, columns 5-8.
    patch = sample_patches(photograph, [[5.5, 6.5]], np.eye(2)[None], 4)
    np.testing.assert_array_equal(patch[0], photograph[4:8, 5:9])


def test_quarter_turn_rotates_window():
    photograph = distinct_photograph()
    turn = np.array([[[0.0, -1.0], [1.0, 0.0]]])
    patch = sample_patches(photograph, [[9.0, 10.0]], turn, 5)
    window = photograph[7:12, 8:13]
    np.testing.assert_array_equal(patch[0], np.rot90(window, k=-1))


def test_scale_two_skips_every_other_pixel():
    photograph = distinct_photograph()
    patch = sample_patches(photograph, [[9.0, 10.0]], 2 * np.eye(2)[None], 3)
    np.testing.assert_array_equal(patch[0], photograph[7:12:2, 8:13:2])


def test_bilinear_is_exact_on_linear_ramp():
    # Bilinear interpolation reproduces any affine function of (row, column).
    rows, columns = np.mgrid[0:40, 0:50]
    photograph = 0.5 * rows + 0.25 * columns
    rng = np.random.default_rng(0)
    centres = rng.uniform(15, 25, size=(6, 2))
    matrices = rng.uniform(-1, 1, size=(6, 2, 2))
    patches = sample_patches(photograph, centres, matrices, 6)

    grid = np.arange(6) - 2.5
    for n in range(6):
        for i in range(6):
            for j in range(6):
                row, column = centres[n] + matrices[n] @ [grid[i], grid[j]]
                assert patches[n, i, j] == pytest.approx(0.5 * row + 0.25 * column,
                                                         abs=1e-4)


def test_reads_outside_take_edge_pixel():
    photograph = distinct_photograph(4, 4)
    patch = sample_patches(photograph, [[0.0, 0.0]], np.eye(2)[None] * 10, 3)
    assert patch[0, 0, 0] == photograph[0, 0]
    assert patch[0, 2, 2] == photograph[3, 3]
    assert patch[0, 0, 2] == photograph[0, 3]


def test_sample_patches_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"matrices of shape \(N, 2, 2\)"):
        sample_patches(distinct_photograph(), [[1.0, 1.0]], np.eye(2), 3)


def test_view_maps_stay_within_recipe():
    recipe = PatchRecipe()
    shifts, matrices = random_view_maps(500, recipe, np.random.default_rng(1))
    assert shifts.shape == (500, 2)
    assert np.abs(shifts).max() <= recipe.max_shift
    # Each map is a scale times a rotation: its columns are orthogonal with
    # equal length, the scale.
    scales = np.linalg.norm(matrices[:, :, 0], axis=1)
    np.testing.assert_allclose(np.linalg.norm(matrices[:, :, 1], axis=1), scales)
    np.testing.assert_allclose(np.einsum("ni,ni->n", matrices[:, :, 0],
                                         matrices[:, :, 1]), 0, atol=1e-12)
    assert scales.min() >= 1 / recipe.max_scale
    assert scales.max() <= recipe.max_scale
    angles = np.degrees(np.arctan2(matrices[:, 1, 0], matrices[:, 0, 0]))
    assert np.abs(angles).max() <= recipe.max_rotation


def test_photometric_off_is_identity():
    recipe = PatchRecipe(max_contrast=1.0, max_brightness=0.0, noise_std=0.0)
    patches = np.random.default_rng(2).random((4, 5, 5)).astype(np.float32)
    out = random_photometric(patches, recipe, np.random.default_rng(3))
    np.testing.assert_allclose(out, patches, atol=1e-6)


def test_contrast_keeps_patch_mean():
    recipe = PatchRecipe(max_contrast=1.5, max_brightness=0.0, noise_std=0.0)
    # Values in [0.4, 0.6] stay inside [0, 1] at contrast 1.5, so none is clipped.
    patches = 0.4 + 0.2 * np.random.default_rng(4).random((50, 6, 6))
    out = random_photometric(patches.astype(np.float32), recipe,
                             np.random.default_rng(5))
    np.testing.assert_allclose(out.mean(axis=(1, 2)), patches.mean(axis=(1, 2)),
                               atol=1e-6)
    spread = out.std(axis=(1, 2)) / patches.std(axis=(1, 2))
    assert spread.min() >= 1 / 1.5 - 1e-5
    assert spread.max() <= 1.5 + 1e-5


def test_regions_sit_at_square_corners():
    photograph = np.zeros((120, 120))
    photograph[30:60, 40:90] = 1
    corners = np.array([[30, 40], [30, 89], [59, 40], [59, 89]])
    centres = find_regions(photograph, count=10, min_distance=8, border=20)
    assert len(centres) == 4
    for centre in centres:
        assert np.abs(corners - centre).max(axis=1).min() <= 2


def test_regions_respect_count_border_and_spacing():
    photograph = load_benchmark_photograph("brick")
    centres = find_regions(photograph, count=30, min_distance=16, border=31)
    H, W = photograph.shape
    assert len(centres) == 30
    assert centres.min() >= 31
    assert (centres[:, 0] < H - 31).all()
    assert (centres[:, 1] < W - 31).all()
    gaps = np.abs(centres[:, None] - centres[None]).max(axis=2)  # (R, R) Chebyshev
    np.fill_diagonal(gaps, np.iinfo(gaps.dtype).max)
    assert gaps.min() >= 16


def test_large_photograph_is_scaled_down():
    retina = load_benchmark_photograph("retina", max_side=512)
    assert max(retina.shape) == 512
    assert retina.dtype == np.float32
    assert 0 <= retina.min()
    assert retina.max() <= 1


def test_unknown_photograph_is_rejected():
    with pytest.raises(ValueError, match="unknown photograph 'colorwheel'"):
        load_benchmark_photograph("colorwheel")


def test_patch_set_is_deterministic():
    first = make_patch_set(("text", "page"), 3, SMALL)
    second = make_patch_set(("text", "page"), 3, SMALL)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.regions == second.regions
    other_seed = make_patch_set(("text", "page"), 3,
                                dataclasses.replace(SMALL, seed=1))
    assert not np.array_equal(first.images, other_seed.images)


def test_patch_set_groups_views_by_region():
    patch_set = make_patch_set(("text", "page"), 3, SMALL)
    R = len(patch_set.regions)
    assert R == 6
    assert patch_set.images.shape == (3 * R, 1, 32, 32)
    assert patch_set.images.dtype == np.float32
    np.testing.assert_array_equal(patch_set.labels, np.repeat(np.arange(R), 3))
    assert patch_set.images.min() >= 0
    assert patch_set.images.max() <= 1
    assert [name.split("@")[0] for name in patch_set.regions] == ["text"] * 3 + [
        "page"] * 3
    # Views of one region differ from each other.
    assert not np.array_equal(patch_set.images[0], patch_set.images[1])


def test_split_is_by_photograph():
    assert not set(TRAIN_PHOTOGRAPHS) & set(EVAL_PHOTOGRAPHS)
    train, evaluation = load_patch_sets(SMALL)
    train_sources = {name.split("@")[0] for name in train.regions}
    eval_sources = {name.split("@")[0] for name in evaluation.regions}
    assert train_sources == set(TRAIN_PHOTOGRAPHS)
    assert eval_sources == set(EVAL_PHOTOGRAPHS)
    assert len(train.images) == SMALL.train_views * len(train.regions)
    assert len(evaluation.images) == SMALL.eval_views * len(evaluation.regions)
    assert not train.images.flags.writeable


def test_recipe_defaults_match_version():
    # Changing a default changes the benchmark's patches, so it must come with
    # a new PATCH_RECIPE_VERSION and a new entry here.
    recipes = {1: PatchRecipe(patch_size=32, max_side=512, regions_per_photograph=48,
                              min_distance=16, train_views=8, eval_views=5,
                              max_shift=4.0, max_scale=1.25, max_rotation=30.0,
                              max_brightness=0.15, max_contrast=1.5, noise_std=0.03,
                              seed=0)}
    assert PatchRecipe() == recipes[PATCH_RECIPE_VERSION]
