"""The patch-matching benchmark: views of small regions of real photographs.

An identity is one physical region of a photograph: a square window around a
Harris corner. Its images are views of that region, each a crop under a random
small shift, scale change, rotation, brightness and contrast change and pixel
noise. Verification decides whether two patches show the same region. This is the
task of the patch benchmark of Brown, Hua and Winder (Liberty, Notre-Dame,
Yosemite) that Zagoruyko and Komodakis trained Siamese networks on. There the
views are photographs taken from other viewpoints, here they are synthetic
warps of one photograph, so the changes between views are smaller and simpler.

The photographs ship with scikit-image, scikit-learn and matplotlib, and the
split is by photograph: evaluation regions come from photographs that training
never sees (``TRAIN_PHOTOGRAPHS`` and ``EVAL_PHOTOGRAPHS``). Every number is
drawn from generators seeded by the recipe's seed and the photograph's name,
so one recipe always builds the same patches.

References
----------
Zagoruyko and Komodakis, "Learning to Compare Image Patches via Convolutional
Neural Networks", CVPR 2015.

Brown, Hua and Winder, "Discriminative Learning of Local Image Descriptors",
IEEE TPAMI 2011.
"""

import dataclasses
import functools
import zlib

import numpy as np
from PIL import Image
from scipy import ndimage

PATCH_RECIPE_VERSION = 1
"""Version of ``PatchRecipe``'s defaults and of the photograph split.

Raise it whenever either changes, so a checkpoint records which patches it
was trained on and ``evaluate`` rejects it on a different split.
"""

TRAIN_PHOTOGRAPHS = (
    "astronaut", "rocket", "chelsea", "brick", "grass", "cell", "moon", "text",
    "hubble_deep_field", "retina", "coins", "clock", "motorcycle_left",
    "sklearn_flower",
)
"""Photographs whose regions train the network (14)."""

EVAL_PHOTOGRAPHS = (
    "camera", "coffee", "gravel", "page", "immunohistochemistry", "sklearn_china",
    "grace_hopper",
)
"""Photographs whose regions are used only for evaluation (7).

Each split mixes scenes, objects, textures, text and microscopy. The two
``sklearn_`` photographs (a pagoda and a dahlia) ship with scikit-learn and
``grace_hopper`` with matplotlib. Synthetic images (``colorwheel``,
``checkerboard``, ``binary_blobs``, the phantom, the logos), the silhouette
``horse``, the duplicate ``cat`` of ``chelsea`` and the right view of the
stereo motorcycle are left out.
"""


@dataclasses.dataclass(frozen=True)
class PatchRecipe:
    """Settings that build the patch benchmark.

    Attributes
    ----------
    patch_size : int
        H = W of each view, in pixels.
    max_side : int
        Photographs larger than this are scaled down (with anti-aliasing) so
        their longer side is ``max_side`` pixels; region sizes are in these
        pixels.
    regions_per_photograph : int
        Harris corners kept per photograph, strongest first; a photograph with
        fewer corners gives fewer regions.
    min_distance : int
        Minimum distance between two region centres, in pixels, so regions
        of one photograph overlap by at most half a window per axis.
    train_views, eval_views : int
        Views per region in the training and the evaluation set.
    max_shift : float
        Each view's centre moves by up to this many pixels per axis.
    max_scale : float
        Each view is scaled by a factor in [1 / max_scale, max_scale],
        log-uniform.
    max_rotation : float
        Each view is rotated by up to this many degrees either way.
    max_brightness : float
        Each view's brightness moves by up to this much, in [0, 1] units.
    max_contrast : float
        Each view's contrast about its mean is scaled by a factor in
        [1 / max_contrast, max_contrast], log-uniform.
    noise_std : float
        Standard deviation of the Gaussian noise added to every pixel.
    seed : int
    """

    patch_size: int = 32
    max_side: int = 512
    regions_per_photograph: int = 48
    min_distance: int = 16
    train_views: int = 8
    eval_views: int = 5
    max_shift: float = 4.0
    max_scale: float = 1.25
    max_rotation: float = 30.0
    max_brightness: float = 0.15
    max_contrast: float = 1.5
    noise_std: float = 0.03
    seed: int = 0

    @property
    def border(self):
        """Minimum distance of a region centre from the photograph's edge, in pixels.

        It keeps every view inside the photograph: the farthest corner of a
        view lies half a diagonal, times the largest scale, plus the largest
        shift, from the region centre.
        """
        half_diagonal = np.sqrt(2) * self.patch_size / 2
        return int(np.ceil(half_diagonal * self.max_scale + self.max_shift)) + 1


@dataclasses.dataclass
class PatchSet:
    """Views of regions, with one label per region.

    Attributes
    ----------
    images : ndarray of shape (N, 1, S, S), float32
        Grey views in [0, 1], S = ``patch_size``; the views of one region are
        consecutive.
    labels : ndarray of shape (N,), int64
        Region index, 0 to R - 1.
    regions : list of str
        The name of each region: ``"<photograph>@<row>,<column>"``, with the
        centre in the scaled photograph's pixels.
    """

    images: np.ndarray
    labels: np.ndarray
    regions: list


def load_benchmark_photograph(name, max_side=512):
    """Load one photograph of the benchmark as grey float32, scaled down if large.

    Parameters
    ----------
    name : str
        An entry of ``TRAIN_PHOTOGRAPHS`` or ``EVAL_PHOTOGRAPHS``.
    max_side : int
        Largest allowed side, in pixels.

    Returns
    -------
    ndarray of shape (H, W), float32
        Luminance in [0, 1], max(H, W) <= ``max_side``.
    """
    import skimage.data

    from nnscratch.faces.data import load_photograph, to_grey

    if name not in TRAIN_PHOTOGRAPHS + EVAL_PHOTOGRAPHS:
        raise ValueError(
            f"load_benchmark_photograph: unknown photograph {name!r}; expected one "
            f"of {TRAIN_PHOTOGRAPHS + EVAL_PHOTOGRAPHS}"
        )
    if name in ("camera", "astronaut"):
        # The face detector's loader rejects these two because they show faces.
        photograph = to_grey(getattr(skimage.data, name)())
    elif name == "grace_hopper":
        photograph = to_grey(_read_matplotlib_sample("grace_hopper.jpg"))
    else:
        photograph = load_photograph(name)

    H, W = photograph.shape
    if max(H, W) > max_side:
        factor = max_side / max(H, W)
        size = (max(1, round(W * factor)), max(1, round(H * factor)))  # PIL: (W, H)
        scaled = Image.fromarray(photograph).resize(size, Image.LANCZOS)
        photograph = np.clip(np.asarray(scaled, dtype=np.float32), 0, 1)
    return np.ascontiguousarray(photograph, dtype=np.float32)


def _read_matplotlib_sample(filename):
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data(filename) as stream:
        with Image.open(stream) as image:
            return np.asarray(image.convert("RGB"))


def find_regions(photograph, count, min_distance, border):
    """Choose region centres at the strongest Harris corners of a photograph.

    Parameters
    ----------
    photograph : ndarray of shape (H, W), float
    count : int
        Maximum number of centres to return.
    min_distance : int
        Minimum distance between two centres, in pixels (Chebyshev, as in
        ``skimage.feature.peak_local_max``).
    border : int
        Minimum distance of a centre from the edge, in pixels.

    Returns
    -------
    ndarray of shape (R, 2), int64
        (row, column) centres, strongest corner first, R <= ``count``.
    """
    from skimage.feature import corner_harris, corner_peaks

    response = corner_harris(photograph.astype(np.float64), sigma=2)
    centres = corner_peaks(response, min_distance=min_distance, threshold_rel=1e-3,
                           exclude_border=border, num_peaks=count)
    return np.asarray(centres, dtype=np.int64).reshape(-1, 2)


def sample_patches(photograph, centres, matrices, patch_size):
    """Sample square patches of a photograph through affine maps, bilinearly.

    Output pixel (i, j) of patch n, at offset u = (i - c, j - c) from the
    patch centre c = (S - 1) / 2, reads the photograph at
    ``centres[n] + matrices[n] @ u`` in (row, column) order. Reads outside
    the photograph take the nearest edge pixel.

    Parameters
    ----------
    photograph : ndarray of shape (H, W), float
    centres : ndarray of shape (N, 2), float
        Patch centres in the photograph, (row, column) in pixels.
    matrices : ndarray of shape (N, 2, 2), float
        Maps from patch offsets to photograph offsets; the identity matrix
        copies a window.
    patch_size : int
        S.

    Returns
    -------
    ndarray of shape (N, S, S), float32
    """
    centres = np.asarray(centres, dtype=np.float64)
    matrices = np.asarray(matrices, dtype=np.float64)
    N = len(centres)
    if centres.shape != (N, 2) or matrices.shape != (N, 2, 2):
        raise ValueError(
            f"sample_patches: expected centres of shape (N, 2) and matrices of "
            f"shape (N, 2, 2), got {centres.shape} and {matrices.shape}"
        )
    grid = np.arange(patch_size) - (patch_size - 1) / 2
    offsets = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)  # (S, S, 2)
    source = np.einsum("nij,abj->nabi", matrices, offsets)  # (N, S, S, 2)
    source += centres[:, None, None, :]
    coordinates = source.reshape(-1, 2).T  # (2, N * S * S)
    values = ndimage.map_coordinates(photograph.astype(np.float64), coordinates,
                                     order=1, mode="nearest")
    return values.reshape(N, patch_size, patch_size).astype(np.float32)


def random_view_maps(count, recipe, rng):
    """Draw the geometry of ``count`` views: centre shifts and affine maps.

    Returns
    -------
    shifts : ndarray of shape (count, 2), float64
        Added to the region centre, in pixels.
    matrices : ndarray of shape (count, 2, 2), float64
        Scale times rotation, for ``sample_patches``.
    """
    shifts = rng.uniform(-recipe.max_shift, recipe.max_shift, size=(count, 2))
    log_scale = np.log(recipe.max_scale)
    scales = np.exp(rng.uniform(-log_scale, log_scale, size=count))
    angles = np.deg2rad(rng.uniform(-recipe.max_rotation, recipe.max_rotation,
                                    size=count))
    cos, sin = np.cos(angles) * scales, np.sin(angles) * scales
    matrices = np.stack([np.stack([cos, -sin], axis=1),
                         np.stack([sin, cos], axis=1)], axis=1)  # (count, 2, 2)
    return shifts, matrices


def random_photometric(patches, recipe, rng):
    """Change each patch's contrast and brightness and add noise, clipped to [0, 1].

    ``out = mean + contrast * (patch - mean) + brightness + noise``, with the
    patch's own mean, one contrast and brightness per patch and noise per
    pixel.

    Parameters
    ----------
    patches : ndarray of shape (N, S, S), float32
    recipe : PatchRecipe
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (N, S, S), float32
    """
    N = len(patches)
    log_contrast = np.log(recipe.max_contrast)
    contrast = np.exp(rng.uniform(-log_contrast, log_contrast, size=(N, 1, 1)))
    brightness = rng.uniform(-recipe.max_brightness, recipe.max_brightness,
                             size=(N, 1, 1))
    noise = rng.normal(0, recipe.noise_std, size=patches.shape)
    mean = patches.mean(axis=(1, 2), keepdims=True)  # (N, 1, 1)
    out = mean + contrast * (patches - mean) + brightness + noise
    return np.clip(out, 0, 1).astype(np.float32)


def photograph_rng(name, recipe):
    """Return the generator of one photograph: seeded by the recipe seed and name."""
    return np.random.default_rng([recipe.seed, zlib.crc32(name.encode("ascii"))])


def make_patch_set(photographs, views, recipe):
    """Build ``views`` views of every region of the given photographs.

    Parameters
    ----------
    photographs : sequence of str
        Names accepted by ``load_benchmark_photograph``.
    views : int
        Views per region.
    recipe : PatchRecipe

    Returns
    -------
    PatchSet
        Regions numbered photograph by photograph, in the given order.
    """
    if views < 1:
        raise ValueError(f"make_patch_set: views must be at least 1, got {views!r}")
    images, regions = [], []
    for name in photographs:
        photograph = load_benchmark_photograph(name, recipe.max_side)
        centres = find_regions(photograph, recipe.regions_per_photograph,
                               recipe.min_distance, recipe.border)
        rng = photograph_rng(name, recipe)
        repeated = np.repeat(centres, views, axis=0).astype(np.float64)  # (R V, 2)
        shifts, matrices = random_view_maps(len(repeated), recipe, rng)
        patches = sample_patches(photograph, repeated + shifts, matrices,
                                 recipe.patch_size)
        images.append(random_photometric(patches, recipe, rng))
        regions += [f"{name}@{row},{column}" for row, column in centres]

    images = np.concatenate(images)[:, None]  # (R V, 1, S, S)
    labels = np.repeat(np.arange(len(regions), dtype=np.int64), views)
    return PatchSet(images, labels, regions)


@functools.lru_cache(maxsize=2)
def load_patch_sets(recipe=PatchRecipe()):
    """Build the training and evaluation patch sets of a recipe, once per process.

    Returns
    -------
    train, evaluation : PatchSet
        Regions of ``TRAIN_PHOTOGRAPHS`` with ``recipe.train_views`` views
        each, and regions of ``EVAL_PHOTOGRAPHS`` with ``recipe.eval_views``.
        The arrays are read-only, as the cache shares them.
    """
    train = make_patch_set(TRAIN_PHOTOGRAPHS, recipe.train_views, recipe)
    evaluation = make_patch_set(EVAL_PHOTOGRAPHS, recipe.eval_views, recipe)
    for patch_set in (train, evaluation):
        patch_set.images.setflags(write=False)
        patch_set.labels.setflags(write=False)
    return train, evaluation
