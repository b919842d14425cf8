"""Read and write image files with Pillow, as float arrays in [0, 1].

``load_image`` normalises what real files contain into one layout:

- the EXIF orientation tag is applied, so a phone photo taken sideways comes
  out upright;
- palette ("P"), bilevel ("1"), grey + alpha ("LA"), "RGBA" and "CMYK" images
  are converted to "RGB" or "L". Transparent pixels are composited on white.
  An embedded ICC profile is converted to sRGB, which is what makes CMYK files
  with a press profile come out with the right colours;
- 16-bit and 32-bit integer images are divided by the largest value of their
  bit depth (65535 for 16 bits), so the full range maps onto [0, 1] without
  clipping;
- Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is kept:
  files with more than twice that many pixels raise ``ImageTooLargeError``,
  and files above the limit itself warn, as Pillow does.
"""

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

_SRGB_PROFILE = None
_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class ImageReadError(ValueError):
    """An image file is missing, truncated or not an image."""


class ImageTooLargeError(ImageReadError, Image.DecompressionBombError):
    """An image has more pixels than Pillow's decompression-bomb limit.

    It is both an ``ImageReadError`` and Pillow's own
    ``DecompressionBombError``, so an except clause for either one catches it.
    """


def _srgb_profile():
    from PIL import ImageCms

    global _SRGB_PROFILE
    if _SRGB_PROFILE is None:
        _SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB_PROFILE


def _apply_icc_profile(image, icc):
    """Convert an RGB or CMYK image to sRGB from its ICC profile ``icc`` (bytes)."""
    if not icc or image.mode not in ("RGB", "CMYK"):
        return image
    # NOTE: the tests cover this path with an sRGB profile only, because Pillow
    # cannot create a CMYK profile to embed in a test file.
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littleCMS
        warnings.warn("ignoring the image's embedded ICC profile because Pillow "
                      "has no ImageCms; colours may be slightly off", stacklevel=4)
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _srgb_profile(),
                                         outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as error:
        warnings.warn(
            f"ignoring the image's embedded ICC profile, which Pillow cannot "
            f"apply ({error}); colours may be slightly off",
            stacklevel=4,
        )
        return image


def _integer_scale(image):
    """Return the largest value of an integer image's bit depth.

    Call it before any transpose, which drops ``image.format`` and the TIFF tags.
    """
    if image.mode.startswith("I;16"):
        return 65535.0
    if image.format == "PNG":
        # Older Pillow versions open 16-bit grey PNGs in mode "I".
        return 65535.0
    bits = getattr(image, "tag_v2", {}).get(258) if image.format == "TIFF" else None
    if isinstance(bits, tuple):
        bits = bits[0]
    if isinstance(bits, int) and 1 <= bits <= 32:
        return float(2**bits - 1)
    top = float(np.asarray(image).max(initial=0))
    for scale in (255.0, 65535.0, 2.0**32 - 1):
        if top <= scale:
            break
    warnings.warn(
        f"the bit depth of this mode {image.mode!r} image is unknown; dividing by "
        f"{scale:.0f}, the smallest range that holds its maximum {top:.0f}",
        stacklevel=3,
    )
    return scale


def _high_depth_to_float(image, mode, scale):
    """Convert a 16-bit, 32-bit or float image to float32 in [0, 1].

    ``scale`` is the integer range from ``_integer_scale``; float images ("F")
    ignore it.
    """
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        top = float(values.max(initial=0))
        scale = 1.0 if top <= 1.0 else top
        if top > 1.0:
            warnings.warn(
                f"float image values reach {top:g}; dividing by the maximum",
                stacklevel=4,
            )
    grey = np.clip(values / scale, 0.0, 1.0)
    if mode == "L":
        return grey.astype(np.float32)
    return np.repeat(grey[..., None], 3, axis=2).astype(np.float32)  # (H, W, 3)


def _to_mode(image, mode, scale):
    """Convert a loaded, upright image to a float32 array of ``mode``."""
    if image.mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_float(image, mode, scale)
    # Compositing makes a new image without the file's info, so keep the profile.
    icc = image.info.get("icc_profile")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        # Composite transparent pixels on white, the usual page background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba).convert("RGB")
    image = _apply_icc_profile(image, icc)
    try:
        converted = image.convert(mode)
    except ValueError as error:
        raise ImageReadError(
            f"cannot convert an image in mode {image.mode!r} to {mode!r}: {error}"
        ) from None
    return np.asarray(converted, dtype=np.float32) / 255.0


def load_image(path, mode="RGB"):
    """Read an image file as a float32 array in [0, 1].

    Parameters
    ----------
    path : str or os.PathLike
    mode : {"RGB", "L"}
        Colour (3 channels) or grey. Grey from colour uses Pillow's luma
        weights, L = 0.299 R + 0.587 G + 0.114 B.

    Returns
    -------
    ndarray of shape (H, W, 3) for "RGB" or (H, W) for "L", float32
        Upright (EXIF orientation applied), values in [0, 1].

    Raises
    ------
    ImageReadError
        If the file is missing, unreadable, truncated or not an image.
    ImageTooLargeError
        If the image has more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` pixels.
        Raise that limit only for files you trust.

    Warns
    -----
    PIL.Image.DecompressionBombWarning
        If the image has more than ``MAX_IMAGE_PIXELS`` pixels, but at most
        twice that.
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"load_image: mode must be 'RGB' or 'L', got {mode!r}")
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(
            f"load_image: path must be a str or os.PathLike, got {type(path).__name__}"
        )
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            scale = None
            if image.mode in _HIGH_DEPTH_MODES and image.mode != "F":
                scale = _integer_scale(image)
            image = ImageOps.exif_transpose(image)
            return _to_mode(image, mode, scale)
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path!r}") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path!r} is a directory, not an image file") from None
    except PermissionError:
        raise ImageReadError(f"permission denied reading {path!r}") from None
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{path!r} is rejected as a possible decompression bomb ({error}); "
            "if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS"
        ) from error
    except UnidentifiedImageError:
        raise ImageReadError(
            f"cannot read {path!r}: not an image format Pillow recognises"
        ) from None
    except (OSError, SyntaxError, EOFError) as error:
        # Pillow reports truncated data as OSError and some corrupt headers
        # (a broken PNG chunk) as SyntaxError.
        raise ImageReadError(
            f"cannot read {path!r}: the file is truncated or corrupt ({error})"
        ) from None


def to_uint8(array):
    """Convert a float image in [0, 1] to uint8, clipping out-of-range values.

    NaN becomes 0.
    """
    array = np.nan_to_num(np.asarray(array, dtype=np.float64), nan=0.0)
    return (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_image(path, array):
    """Write an image, in the format given by the file suffix (PNG usually).

    Parameters
    ----------
    path : str or os.PathLike
        Missing parent folders are created.
    array : ndarray of shape (H, W), (H, W, 1) or (H, W, 3)
        Float values in [0, 1] (clipped), or uint8 written as is.
    """
    array = np.asarray(array)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3)):
        raise ValueError(
            f"save_image: array must have shape (H, W), (H, W, 1) or (H, W, 3), "
            f"got {array.shape}"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    data = array if array.dtype == np.uint8 else to_uint8(array)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(data).save(path)
