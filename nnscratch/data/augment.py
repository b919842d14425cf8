"""Data augmentation for NCHW batches, one random draw per sample.

Each augmentation comes in two parts:

- a deterministic transform that takes its parameters per sample
  (``translate(x, shifts)``, ``rotate(x, angles)``, ``flip_horizontal(x, flags)``),
  so code that must move boxes or landmarks with the pixels can apply the same
  parameters to them;
- a ``random_*`` twin that draws those parameters from a
  ``numpy.random.Generator`` and returns ``(augmented, params)``.

``compose`` chains random augmentations into one ``augment(x, rng) -> x``.
Pixel coordinates: row i and column j are the centre of pixel (i, j). The image
centre is ((H - 1) / 2, (W - 1) / 2).
"""

import numpy as np


def _check_batch(x, name):
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(
            f"{name}: x must be an NCHW ndarray of 4 dimensions, got "
            f"{getattr(x, 'shape', type(x).__name__)}"
        )


def _check_rng(rng, name):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name}: rng must be a numpy.random.Generator, got "
            f"{type(rng).__name__}; create one with np.random.default_rng(seed)"
        )


def _per_sample(values, N, width, name):
    values = np.asarray(values)
    expected = (N,) if width == 1 else (N, width)
    if values.shape != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {values.shape}")
    return values


def translate(x, shifts, fill=0.0):
    """Shift each image by whole pixels, filling uncovered pixels with ``fill``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    shifts : ndarray of shape (N, 2), int
        (dy, dx) per sample: ``out[n, :, i, j] = x[n, :, i - dy, j - dx]``, so a
        positive dy moves the content down and a positive dx moves it right.
    fill : float

    Returns
    -------
    ndarray of shape (N, C, H, W), dtype of ``x``
    """
    _check_batch(x, "translate")
    N, C, H, W = x.shape
    shifts = _per_sample(shifts, N, 2, "translate: shifts").astype(np.int64)

    out = np.full_like(x, fill)
    for n, (dy, dx) in enumerate(shifts):
        if abs(dy) >= H or abs(dx) >= W:
            continue
        out[n, :, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
            x[n, :, max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


def random_translate(x, rng, max_shift, fill=0.0):
    """Shift each image by (dy, dx) drawn uniformly from [-max_shift, max_shift].

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    shifts : ndarray of shape (N, 2), int64
        The (dy, dx) applied, see ``translate``.
    """
    _check_batch(x, "random_translate")
    _check_rng(rng, "random_translate")
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(
            f"random_translate: max_shift must be a non-negative int, got {max_shift!r}"
        )
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))
    return translate(x, shifts, fill), shifts


def crop(x, corners, size):
    """Cut a window of ``size`` out of each image.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    corners : ndarray of shape (N, 2), int
        (top, left) of each window, with 0 <= top <= H - OH and
        0 <= left <= W - OW.
    size : pair of int
        (OH, OW).

    Returns
    -------
    ndarray of shape (N, C, OH, OW)
    """
    _check_batch(x, "crop")
    N, C, H, W = x.shape
    OH, OW = size
    corners = _per_sample(corners, N, 2, "crop: corners").astype(np.int64)
    if N and (corners.min() < 0 or (corners[:, 0] > H - OH).any()
              or (corners[:, 1] > W - OW).any()):
        raise ValueError(
            f"crop: every window of size {(OH, OW)} must lie inside the {H}x{W} "
            f"image, got corners from {corners.min(axis=0)} to {corners.max(axis=0)}"
        )
    out = np.empty((N, C, OH, OW), dtype=x.dtype)
    for n, (top, left) in enumerate(corners):
        out[n] = x[n, :, top:top + OH, left:left + OW]
    return out


def random_crop(x, rng, size, padding=0, fill=0.0):
    """Pad each image by ``padding`` on every side, then crop a random window.

    With ``size`` equal to the input size this is a random shift of up to
    ``padding`` pixels, the usual MNIST and CIFAR augmentation.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    rng : numpy.random.Generator
    size : int or pair of int
        (OH, OW), at most (H + 2 padding, W + 2 padding).
    padding : int
    fill : float
        Value of the padding.

    Returns
    -------
    out : ndarray of shape (N, C, OH, OW)
    corners : ndarray of shape (N, 2), int64
        (top, left) of each window in padded coordinates, so the window starts
        at (top - padding, left - padding) of the original image.
    """
    _check_batch(x, "random_crop")
    _check_rng(rng, "random_crop")
    OH, OW = (size, size) if isinstance(size, (int, np.integer)) else size
    N, C, H, W = x.shape
    if padding < 0 or OH > H + 2 * padding or OW > W + 2 * padding or min(OH, OW) < 1:
        raise ValueError(
            f"random_crop: size {(OH, OW)} must be positive and fit in the padded "
            f"image {(H + 2 * padding, W + 2 * padding)} (padding={padding!r})"
        )
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=fill)
    tops = rng.integers(0, H + 2 * padding - OH + 1, size=N)
    lefts = rng.integers(0, W + 2 * padding - OW + 1, size=N)
    corners = np.stack([tops, lefts], axis=1)  # (N, 2)
    return crop(x, corners, (OH, OW)), corners


def rotation_matrices(angles, height, width):
    """Return the affine maps from output to input pixel coordinates of a rotation.

    Parameters
    ----------
    angles : ndarray of shape (N,)
        Degrees, counter-clockwise as the image is displayed (row 0 at the top).
    height, width : int
        The rotation is about the image centre ((H - 1) / 2, (W - 1) / 2).

    Returns
    -------
    ndarray of shape (N, 2, 3), float64
        ``[row_in, col_in] = A @ [row_out, col_out, 1]`` for each sample.
    """
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    # Displayed counter-clockwise rotation with rows pointing down: an output
    # pixel at offset (r, c) from the centre samples the input at offset
    # (cos r + sin c, -sin r + cos c).
    matrices = np.empty((len(theta), 2, 3))
    matrices[:, 0, 0], matrices[:, 0, 1] = cos, sin
    matrices[:, 1, 0], matrices[:, 1, 1] = -sin, cos
    matrices[:, 0, 2] = cy - cos * cy - sin * cx
    matrices[:, 1, 2] = cx + sin * cy - cos * cx
    return matrices


def affine_sample(x, matrices, fill=0.0):
    """Resample each image through an affine map with bilinear interpolation.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    matrices : ndarray of shape (N, 2, 3)
        Maps output (row, col, 1) to input (row, col), see
        ``rotation_matrices``.
    fill : float
        Value of samples that fall outside the input.

    Returns
    -------
    ndarray of shape (N, C, H, W), dtype of ``x``

    Notes
    -----
    Out-of-range neighbours count as ``fill``, so edges blend into the fill
    over one pixel, as in ``scipy.ndimage.affine_transform`` with ``order=1``
    and ``mode="grid-constant"``.
    """
    _check_batch(x, "affine_sample")
    N, C, H, W = x.shape
    matrices = np.asarray(matrices, dtype=np.float64)
    if matrices.shape != (N, 2, 3):
        raise ValueError(
            f"affine_sample: matrices must have shape {(N, 2, 3)}, got {matrices.shape}"
        )

    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    grid = np.stack([rows.ravel(), cols.ravel(), np.ones(H * W)])  # (3, H*W)
    source = matrices @ grid  # (N, 2, H*W)
    r, c = source[:, 0], source[:, 1]  # (N, H*W) each
    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0

    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    flat = padded.reshape(N, C, (H + 2) * (W + 2))  # (N, C, (H+2)*(W+2))
    out = np.zeros((N, C, H * W), dtype=np.float64)
    for drow, dcol, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                               (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        # Shift by one for the padding; clamp far-away samples onto the padded
        # border, which contains ``fill``.
        rr = np.clip(r0 + drow + 1, 0, H + 1)
        cc = np.clip(c0 + dcol + 1, 0, W + 1)
        index = (rr * (W + 2) + cc)[:, None, :]  # (N, 1, H*W)
        out += weight[:, None, :] * np.take_along_axis(flat, index, axis=2)
    return out.reshape(N, C, H, W).astype(x.dtype)  # (N, C, H, W)


def rotate(x, angles, fill=0.0):
    """Rotate each image about its centre by its angle, keeping the size.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    angles : ndarray of shape (N,)
        Degrees, counter-clockwise as displayed. 90 on a square image equals
        ``np.rot90(x, axes=(2, 3))``.
    fill : float

    Returns
    -------
    ndarray of shape (N, C, H, W)
    """
    _check_batch(x, "rotate")
    N, C, H, W = x.shape
    angles = _per_sample(angles, N, 1, "rotate: angles")
    return affine_sample(x, rotation_matrices(angles, H, W), fill)


def random_rotate(x, rng, max_degrees, fill=0.0):
    """Rotate each image by an angle drawn uniformly from [-max_degrees, max_degrees].

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    angles : ndarray of shape (N,), float64
        Degrees, counter-clockwise.
    """
    _check_batch(x, "random_rotate")
    _check_rng(rng, "random_rotate")
    if not 0 <= max_degrees <= 180:
        raise ValueError(
            f"random_rotate: max_degrees must be in [0, 180], got {max_degrees!r}"
        )
    angles = rng.uniform(-max_degrees, max_degrees, size=len(x))
    return rotate(x, angles, fill), angles


def flip_horizontal(x, flags):
    """Mirror the images whose flag is set (left becomes right).

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    flags : ndarray of shape (N,), bool

    Returns
    -------
    ndarray of shape (N, C, H, W)
        Column j of a flipped image is column W - 1 - j of the input.
    """
    _check_batch(x, "flip_horizontal")
    flags = _per_sample(flags, len(x), 1, "flip_horizontal: flags").astype(bool)
    out = x.copy()
    out[flags] = x[flags, :, :, ::-1]
    return out


def random_flip_horizontal(x, rng, p=0.5):
    """Mirror each image with probability ``p``.

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    flags : ndarray of shape (N,), bool
        Which images were mirrored.
    """
    _check_batch(x, "random_flip_horizontal")
    _check_rng(rng, "random_flip_horizontal")
    if not 0 <= p <= 1:
        raise ValueError(f"random_flip_horizontal: p must be in [0, 1], got {p!r}")
    flags = rng.random(len(x)) < p
    return flip_horizontal(x, flags), flags


def colour_shift(x, gains, offsets, clip=(0.0, 1.0)):
    """Scale and shift each channel of each image: out = gain * x + offset.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    gains, offsets : ndarray of shape (N, C)
    clip : pair of float or None
        Range the result is clipped to; None keeps it unclipped.

    Returns
    -------
    ndarray of shape (N, C, H, W), dtype of ``x``
    """
    _check_batch(x, "colour_shift")
    N, C = x.shape[:2]
    gains = _per_sample(gains, N, C, "colour_shift: gains")
    offsets = _per_sample(offsets, N, C, "colour_shift: offsets")
    out = x * gains[:, :, None, None] + offsets[:, :, None, None]  # (N, C, H, W)
    if clip is not None:
        out = np.clip(out, *clip)
    return out.astype(x.dtype, copy=False)


def random_colour_shift(x, rng, max_gain=0.2, max_offset=0.1, clip=(0.0, 1.0)):
    """Scale each channel by 1 + U(-max_gain, max_gain) and shift it by
    U(-max_offset, max_offset), independently per sample and channel.

    Returns
    -------
    out : ndarray of shape (N, C, H, W)
    gains, offsets : ndarray of shape (N, C), float64
    """
    _check_batch(x, "random_colour_shift")
    _check_rng(rng, "random_colour_shift")
    if max_gain < 0 or max_offset < 0:
        raise ValueError(
            f"random_colour_shift: max_gain and max_offset must be >= 0, got "
            f"{max_gain!r} and {max_offset!r}"
        )
    N, C = x.shape[:2]
    gains = 1 + rng.uniform(-max_gain, max_gain, size=(N, C))
    offsets = rng.uniform(-max_offset, max_offset, size=(N, C))
    return colour_shift(x, gains, offsets, clip), gains, offsets


def compose(*augmentations):
    """Chain ``random_*`` augmentations into one ``augment(x, rng) -> x``.

    Parameters
    ----------
    *augmentations : callable
        Each ``f(x, rng) -> (x, *params)`` or ``f(x, rng) -> x``; bind options
        with ``functools.partial``. They run in the order given, and the
        parameters they return are dropped.

    Returns
    -------
    callable

    Examples
    --------
    >>> from functools import partial
    >>> augment = compose(partial(random_translate, max_shift=2),
    ...                   partial(random_rotate, max_degrees=10))
    >>> augment(np.zeros((4, 1, 28, 28), np.float32),
    ...         np.random.default_rng(0)).shape
    (4, 1, 28, 28)
    """
    for index, augmentation in enumerate(augmentations):
        if not callable(augmentation):
            raise TypeError(
                f"compose: argument {index} must be callable, got "
                f"{type(augmentation).__name__}"
            )

    def augment(x, rng):
        for augmentation in augmentations:
            result = augmentation(x, rng)
            x = result[0] if isinstance(result, tuple) else result
        return x

    return augment

