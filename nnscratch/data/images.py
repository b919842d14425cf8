"""Read and write image files with Pillow, as float arrays in [0, 1].

Reading applies the EXIF orientation, converts palette, grey+alpha, RGBA
(composited on white), CMYK and 16-bit images to the
requested mode, and keeps Pillow's decompression-bomb limit.
"""

import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class ImageReadError(ValueError):
    """An image file is missing, truncated or not an image."""


def _to_mode(image, mode):
    """Convert ``image`` to "RGB" or "L", scaling 16-bit and 32-bit values."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16"):
            top = 65535.0
        elif image.mode == "I":
            top = 65535.0 if values.max(initial=0) > 255 else 255.0
        else:
            top = max(1.0, float(values.max(initial=0)))
        grey = np.clip(values / top, 0, 1)
        array = grey if mode == "L" else np.repeat(grey[..., None], 3, axis=2)
        return array.astype(np.float32)
    if image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    ):
        # Composite transparent pixels on white, the usual page background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    converted = image.convert(mode)
    return np.asarray(converted, dtype=np.float32) / 255.0


def load_image(path, mode="RGB"):
    """Read an image file as a float32 array in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
    mode : {"RGB", "L"}
        Colour (3 channels) or grey.

    Returns
    -------
    ndarray of shape (H, W, 3) for "RGB" or (H, W) for "L", float32

    Raises
    ------
    ImageReadError
        If the file is missing, truncated or not an image.
    PIL.Image.DecompressionBombError
        If the image has more pixels than Pillow's safety limit.
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"load_image: mode must be 'RGB' or 'L', got {mode!r}")
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_mode(image, mode)
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path!r}") from None
    except UnidentifiedImageError:
        raise ImageReadError(
            f"cannot read {path!r}: not an image format Pillow recognises"
        ) from None
    except OSError as error:
        raise ImageReadError(
            f"cannot read {path!r}: the file is truncated or corrupt ({error})"
        ) from None


def to_uint8(array):
    """Convert a float image in [0, 1] to uint8, clipping out-of-range values."""
    return (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_image(path, array):
    """Write a float image in [0, 1], (H, W) or (H, W, 3), as PNG or by suffix."""
    array = np.asarray(array)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3)):
        raise ValueError(
            f"save_image expects (H, W) or (H, W, 3), got shape {array.shape}"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    data = array if array.dtype == np.uint8 else to_uint8(array)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(data).save(path)
