"""Face and non-face windows for the sliding-window face classifier.

Positives are the 100 face crops of ``skimage.data.lfw_subset`` (25 x 25 grey
images of Labeled Faces in the Wild), warped to the classifier's window with
random flips, scales, rotations, shifts and photometric changes. Negatives are
the 100 non-face crops of the same set and random crops of face-free
photographs that ship with scikit-image. ``train.py`` adds hard negatives: the
windows of those photographs that the classifier still scores as faces.

Photographs are split in two groups, so that the evaluation photographs never
feed training:

- ``TRAINING_PHOTOGRAPHS``: random negative crops and hard-negative mining.
- ``EVALUATION_PHOTOGRAPHS``: used only to count false positives.

Every image in this module is grey, float32, in [0, 1].
"""

import numpy as np
from scipy import ndimage

FACE_WINDOW = 24
"""Side of the square window the classifier takes as input, in pixels."""

LFW_SIZE = 25
"""Side of each ``lfw_subset`` crop, in pixels."""

TRAINING_PHOTOGRAPHS = (
    "chelsea", "moon", "text", "coins", "clock", "hubble_deep_field", "page",
    "horse", "retina", "immunohistochemistry", "logo", "cell", "microaneurysms",
    "shepp_logan_phantom", "motorcycle_left", "motorcycle_right",
    "sklearn_china", "sklearn_flower",
)
"""Face-free photographs for negative crops and hard-negative mining.

Each was checked by eye for human faces: the cat (chelsea) is a useful hard
negative, and the coins carry small profile reliefs, not frontal faces.
``camera`` (the cameraman) and ``astronaut`` show faces and are never used.
The two ``sklearn_`` photographs (a pagoda and a dahlia) ship with
scikit-learn, which mlxtend requires.
"""

EVALUATION_PHOTOGRAPHS = ("coffee", "rocket", "brick", "grass", "gravel")
"""Face-free photographs kept out of training, used to count false positives."""


def load_photograph(name):
    """Load one of scikit-image's photographs as a grey image.

    Parameters
    ----------
    name : str
        A ``skimage.data`` function name (``"coffee"``),
        ``"motorcycle_left"`` / ``"motorcycle_right"`` for the two views of
        ``stereo_motorcycle``, or ``"sklearn_china"`` / ``"sklearn_flower"``
        for the JPEG files in ``sklearn/datasets/images``.

    Returns
    -------
    ndarray of shape (H, W), float32
        Luminance in [0, 1] (ITU-R BT.709 weights, as ``skimage.color.rgb2gray``).
    """
    import skimage.data

    if name in ("sklearn_china", "sklearn_flower"):
        image = _read_sklearn_image(name[len("sklearn_"):] + ".jpg")
    elif name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = skimage.data.stereo_motorcycle()
        image = left if name == "motorcycle_left" else right
    elif name in ("camera", "astronaut"):
        raise ValueError(
            f"load_photograph: {name!r} shows a face, so it cannot serve as a "
            "face-free photograph; load it with skimage.data directly"
        )
    elif name in getattr(skimage.data, "__all__", ()) and name != "lfw_subset":
        image = getattr(skimage.data, name)()
    else:
        raise ValueError(
            f"load_photograph: unknown photograph {name!r}; expected a "
            "skimage.data image name such as 'coffee' or 'motorcycle_left'"
        )
    return to_grey(image)


def _read_sklearn_image(filename):
    """Read a sample JPEG of scikit-learn without importing scikit-learn."""
    import importlib.util
    import os

    from PIL import Image

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"load_photograph: {filename} ships with scikit-learn, which is not "
            "installed; install it with `pip install scikit-learn`"
        )
    folder = list(spec.submodule_search_locations)[0]
    path = os.path.join(folder, "datasets", "images", filename)
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def to_grey(image):
    """Convert a uint8, bool or float image, grey or RGB(A), to grey float32.

    Parameters
    ----------
    image : ndarray of shape (H, W), (H, W, 3) or (H, W, 4)
        uint8 in [0, 255], bool, or float in [0, 1].

    Returns
    -------
    ndarray of shape (H, W), float32 in [0, 1]
    """
    from skimage.color import rgb2gray

    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"to_grey: expected an image of shape (H, W), (H, W, 3) or (H, W, 4), "
            f"got {image.shape}"
        )
    if image.dtype == np.uint8:
        image = image / 255.0
    image = image.astype(np.float64)
    if image.ndim == 3:
        image = rgb2gray(image[..., :3])
    return np.clip(image, 0, 1).astype(np.float32)


def lfw_split(validation_per_class=10):
    """Split ``lfw_subset`` into training and validation faces and non-faces.

    The last ``validation_per_class`` crops of each class are held out.

    Returns
    -------
    train_faces, train_nonfaces, val_faces, val_nonfaces :
        ndarray of shape (n, 25, 25), float32 in [0, 1]
    """
    import skimage.data

    crops = skimage.data.lfw_subset().astype(np.float32)  # (200, 25, 25)
    faces, nonfaces = crops[:100], crops[100:]
    if not 0 <= validation_per_class < 100:
        raise ValueError(
            f"lfw_split: validation_per_class must be in [0, 100), got "
            f"{validation_per_class!r}"
        )
    cut = 100 - validation_per_class
    return faces[:cut], nonfaces[:cut], faces[cut:], nonfaces[cut:]


def center_windows(crops, window=FACE_WINDOW):
    """Resample crops to ``window`` x ``window`` with no augmentation.

    Parameters
    ----------
    crops : ndarray of shape (N, S, S)

    Returns
    -------
    ndarray of shape (N, window, window), float32
    """
    return warp_windows(crops, np.ones(len(crops)), np.zeros(len(crops)),
                        np.zeros((len(crops), 2)), np.zeros(len(crops), bool), window)


def warp_windows(crops, scales, angles, shifts, flips, window=FACE_WINDOW):
    """Resample each square crop to a window by a similarity transform.

    Output pixel centres are spread over the whole crop, so with scale 1,
    angle 0 and shift 0 the window shows the crop resized (bilinear).

    Parameters
    ----------
    crops : ndarray of shape (N, S, S)
    scales : ndarray of shape (N,)
        Zoom factors; above 1 shows a smaller part of the crop.
    angles : ndarray of shape (N,)
        Rotations in radians, counter-clockwise.
    shifts : ndarray of shape (N, 2)
        (row, column) shift of the viewed centre, in crop pixels.
    flips : ndarray of shape (N,), bool
        Mirror left-right.

    Returns
    -------
    ndarray of shape (N, window, window), float32
    """
    N, S, _ = crops.shape
    step = S / window
    grid = (np.arange(window) + 0.5) * step - S / 2  # offsets of output centres
    rows, cols = np.meshgrid(grid, grid, indexing="ij")  # (window, window)
    cols = np.where(flips[:, None, None], -cols, cols)  # (N, window, window)
    rows = np.broadcast_to(rows, cols.shape)

    cos = (np.cos(angles) / scales)[:, None, None]
    sin = (np.sin(angles) / scales)[:, None, None]
    source_rows = cos * rows - sin * cols + S / 2 - 0.5 + shifts[:, 0, None, None]
    source_cols = sin * rows + cos * cols + S / 2 - 0.5 + shifts[:, 1, None, None]
    index = np.broadcast_to(np.arange(N)[:, None, None], cols.shape)
    coordinates = np.stack([index, source_rows, source_cols])  # (3, N, win, win)
    out = ndimage.map_coordinates(crops.astype(np.float32), coordinates, order=1,
                                  mode="nearest")
    return out.astype(np.float32)


def jitter_photometric(windows, rng, contrast=(0.6, 1.4), brightness=0.15,
                       gamma=(0.7, 1.4), noise=0.02):
    """Change contrast, brightness and gamma at random, add noise, clip to [0, 1].

    Parameters
    ----------
    windows : ndarray of shape (N, H, W), float32 in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (N, H, W), float32 in [0, 1]
    """
    N = len(windows)
    gammas = np.exp(rng.uniform(np.log(gamma[0]), np.log(gamma[1]), N))
    out = np.clip(windows, 0, 1) ** gammas[:, None, None]
    mean = out.mean(axis=(1, 2), keepdims=True)
    factor = rng.uniform(*contrast, N)[:, None, None]
    offset = rng.uniform(-brightness, brightness, N)[:, None, None]
    out = (out - mean) * factor + mean + offset
    out = out + rng.normal(0, noise, out.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def augment_faces(faces, count, rng, window=FACE_WINDOW):
    """Draw ``count`` augmented face windows from the face crops.

    Each window is a random crop, flipped left-right half the time, zoomed by
    0.9 to 1.1, rotated by up to 10 degrees, shifted by up to 1 pixel, then
    given random contrast, brightness, gamma and noise.

    Parameters
    ----------
    faces : ndarray of shape (N, S, S), float32 in [0, 1]
    count : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (count, window, window), float32 in [0, 1]
    """
    picks = rng.integers(0, len(faces), count)
    scales = np.exp(rng.uniform(np.log(0.9), np.log(1.1), count))
    angles = np.deg2rad(rng.uniform(-10, 10, count))
    shifts = rng.uniform(-1, 1, (count, 2))
    flips = rng.random(count) < 0.5
    windows = warp_windows(faces[picks], scales, angles, shifts, flips, window)
    return jitter_photometric(windows, rng)


def augment_nonfaces(crops, count, rng, window=FACE_WINDOW):
    """Draw ``count`` non-face windows: random crops, flips, quarter turns and
    photometric changes.

    Parameters
    ----------
    crops : ndarray of shape (N, S, S), float32 in [0, 1]
    count : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (count, window, window), float32 in [0, 1]
    """
    picks = rng.integers(0, len(crops), count)
    scales = np.exp(rng.uniform(np.log(0.8), np.log(1.25), count))
    angles = rng.integers(0, 4, count) * (np.pi / 2)
    shifts = rng.uniform(-2, 2, (count, 2))
    flips = rng.random(count) < 0.5
    windows = warp_windows(crops[picks], scales, angles, shifts, flips, window)
    return jitter_photometric(windows, rng)


def dead_leaves_texture(size, rng, min_radius=1.5, max_radius=None, alpha=3.0,
                        shading=0.0):
    """Draw a dead-leaves image: opaque discs of random grey stacked until full.

    Disc radii follow a power law p(r) ~ r**-alpha between ``min_radius`` and
    ``max_radius``, which gives the image the scale-invariant statistics of
    natural photographs (gravel, foliage, clutter) without any face in it.
    With ``shading`` > 0 each disc is lit from one random direction, a linear
    ramp of that amplitude across the disc, like pebbles in sunlight.

    Parameters
    ----------
    size : int
        Side of the square image, in pixels.
    rng : numpy.random.Generator
    min_radius, max_radius : float
        Disc radii in pixels; ``max_radius`` defaults to ``size / 4``.
    alpha : float
        Power-law exponent, greater than 1.
    shading : float
        Brightness difference between the lit and the dark edge of a disc.

    Returns
    -------
    ndarray of shape (size, size), float32 in [0, 1]

    References
    ----------
    Lee, Mumford and Huang, "Occlusion Models for Natural Images: A
    Statistical Study of a Scale-Invariant Dead Leaves Model", IJCV 2001.
    """
    if max_radius is None:
        max_radius = size / 4
    image = np.full((size, size), np.nan, np.float32)
    rows, cols = np.mgrid[0:size, 0:size]
    light = rng.uniform(0, 2 * np.pi)
    light_row, light_col = np.sin(light), np.cos(light)
    # Discs are drawn front to back: each one only fills pixels still empty.
    while np.isnan(image).any():
        # Inverse-CDF sample of the truncated power law.
        low, high = min_radius ** (1 - alpha), max_radius ** (1 - alpha)
        radius = (low + rng.random() * (high - low)) ** (1 / (1 - alpha))
        centre = rng.uniform(-radius, size + radius, 2)
        top, bottom = int(max(0, centre[0] - radius)), int(min(size, centre[0] + radius + 1))
        left, right = int(max(0, centre[1] - radius)), int(min(size, centre[1] + radius + 1))
        if top >= bottom or left >= right:
            continue
        patch = image[top:bottom, left:right]
        dy = rows[top:bottom, left:right] - centre[0]
        dx = cols[top:bottom, left:right] - centre[1]
        fill = (dy**2 + dx**2 <= radius**2) & np.isnan(patch)
        ramp = shading * (dy * light_row + dx * light_col) / (2 * radius)
        patch[fill] = (rng.random() + ramp)[fill]
    return np.clip(image, 0, 1)


def pink_noise_texture(size, rng, exponent=None):
    """Draw noise whose power spectrum falls as 1 / f**exponent.

    Parameters
    ----------
    size : int
        Side of the square image, in pixels.
    rng : numpy.random.Generator
    exponent : float, optional
        Spectral slope; drawn from [1, 3] when omitted (2 is typical of
        natural images).

    Returns
    -------
    ndarray of shape (size, size), float32 in [0, 1]
        Rescaled so its 1st and 99th percentiles map to 0 and 1.
    """
    if exponent is None:
        exponent = rng.uniform(1, 3)
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size)))
    frequency[0, 0] = 1.0
    spectrum = frequency ** (-exponent / 2) * np.exp(2j * np.pi * rng.random((size, size)))
    spectrum[0, 0] = 0
    noise = np.fft.ifft2(spectrum).real
    low, high = np.percentile(noise, [1, 99])
    return np.clip((noise - low) / (high - low), 0, 1).astype(np.float32)


def synthetic_textures(count, rng, size=192):
    """Draw face-free textures: half dead leaves (shaded, blurred), half 1/f noise.

    Returns
    -------
    list of ndarray of shape (size, size), float32 in [0, 1]
    """
    textures = []
    for index in range(count):
        if index % 2 == 0:
            leaves = dead_leaves_texture(size, rng, shading=rng.uniform(0, 0.6))
            # A light blur gives the discs the soft edges of real photographs.
            texture = ndimage.gaussian_filter(leaves, rng.uniform(0, 1.5))
        else:
            texture = pink_noise_texture(size, rng)
        textures.append(texture.astype(np.float32))
    return textures


def random_photo_windows(photographs, count, rng, window=FACE_WINDOW):
    """Cut ``count`` random square windows from photographs and shrink them.

    Half of the window sides are log-uniform between ``window`` and twice
    that, where fine texture looks most like a small face, and half between
    ``window`` and the photograph's shorter side. Each window is resized to
    ``window`` x ``window`` with anti-aliasing, as the detector's image
    pyramid does.

    Parameters
    ----------
    photographs : sequence of ndarray of shape (H, W), float32 in [0, 1]
    count : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (count, window, window), float32 in [0, 1]
    """
    from skimage.transform import resize

    out = np.empty((count, window, window), np.float32)
    for index in range(count):
        photo = photographs[rng.integers(len(photographs))]
        H, W = photo.shape
        top_side = min(H, W)
        largest = min(2 * window, top_side) if index % 2 else top_side
        side = int(np.exp(rng.uniform(np.log(window), np.log(largest))))
        side = min(max(side, window), top_side)
        y = rng.integers(0, H - side + 1)
        x = rng.integers(0, W - side + 1)
        crop = photo[y:y + side, x:x + side]
        out[index] = resize(crop, (window, window), anti_aliasing=side > window)
    return out
