"""Bounding boxes: formats, area, clipping to the image, small-box removal.

Coordinates are continuous pixel positions with (0, 0) at the top-left corner
of the image, x to the right and y down. A box covers the closed rectangle
[x1, x2] x [y1, y2], so its width is x2 - x1 (no "+ 1" pixel convention) and
an image of H rows and W columns spans [0, W] x [0, H].

Formats, one box per row:

==========  ===================================================
``xyxy``    (x1, y1, x2, y2), corners with x1 <= x2, y1 <= y2
``xywh``    (x1, y1, w, h), top-left corner and size
``cxcywh``  (cx, cy, w, h), centre and size
==========  ===================================================

Half-precision boxes are computed in float32, because squared pixel sizes
overflow float16 (its largest value is 65504, a 256 x 256 box).
"""

import numpy as np

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def as_float_boxes(boxes, name, function, ndim=None):
    """Return ``boxes`` as a float array of shape (..., 4) for computing.

    float16 becomes float32, integers and booleans become float64, float32 and
    float64 stay as they are. NaN or infinite coordinates raise ValueError.
    """
    if not isinstance(boxes, np.ndarray):
        if isinstance(boxes, (str, bytes, dict)) or np.ndim(boxes) == 0:
            raise TypeError(
                f"{function}: {name} must be an array of boxes of shape (N, 4), "
                f"got {type(boxes).__name__}"
            )
        boxes = np.asarray(boxes)
    if boxes.dtype == np.float16:
        boxes = boxes.astype(np.float32)
    elif boxes.dtype.kind in "iub":
        boxes = boxes.astype(np.float64)
    elif boxes.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{function}: {name} must hold real numbers, got dtype {boxes.dtype}; "
            "convert with np.asarray(boxes, dtype=np.float32)"
        )

    if boxes.ndim == 1 and boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim == 0 or boxes.shape[-1] != 4 or (ndim and boxes.ndim != ndim):
        expected = "(N, 4)" if ndim == 2 else "(..., 4)"
        raise ValueError(
            f"{function}: {name} must have shape {expected}, got {boxes.shape}"
        )
    if not np.isfinite(boxes).all():
        bad = np.argwhere(~np.isfinite(boxes))[0][:-1]
        raise ValueError(
            f"{function}: {name}[{', '.join(map(str, bad))}] = "
            f"{boxes[tuple(bad)].tolist()} has a NaN or infinite coordinate"
        )
    return boxes


def check_xyxy(boxes, name, function):
    """Raise ValueError naming the first inverted box (x2 < x1 or y2 < y1)."""
    inverted = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    if inverted.any():
        index = tuple(int(i) for i in np.argwhere(inverted)[0])
        where = ", ".join(map(str, index))
        raise ValueError(
            f"{function}: {name}[{where}] = {boxes[index].tolist()} is inverted; "
            "xyxy boxes need x1 <= x2 and y1 <= y2. If they are (x, y, w, h) or "
            "(cx, cy, w, h), convert them with box_convert first"
        )


def xyxy_boxes(boxes, name, function, ndim=2):
    """Validate xyxy boxes at a public entry point and return them as floats."""
    boxes = as_float_boxes(boxes, name, function, ndim=ndim)
    check_xyxy(boxes, name, function)
    return boxes


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between the ``xyxy``, ``xywh`` and ``cxcywh`` formats.

    Parameters
    ----------
    boxes : array_like of shape (..., 4)
    in_fmt, out_fmt : {"xyxy", "xywh", "cxcywh"}

    Returns
    -------
    ndarray of shape (..., 4)
        A new array, float32 for float16 input, float64 for integer input,
        otherwise the input dtype.

    Examples
    --------
    >>> box_convert(np.array([[10.0, 20.0, 30.0, 60.0]]), "xyxy", "cxcywh")
    array([[20., 40., 20., 40.]])
    """
    for label, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in BOX_FORMATS:
            raise ValueError(
                f"box_convert: {label} must be one of {BOX_FORMATS}, got {fmt!r}"
            )
    boxes = as_float_boxes(boxes, "boxes", "box_convert")
    if in_fmt == "xyxy":
        check_xyxy(boxes, "boxes", "box_convert")
    elif (boxes[..., 2:] < 0).any():
        raise ValueError(
            f"box_convert: boxes in {in_fmt!r} format need w >= 0 and h >= 0, got "
            f"min w {boxes[..., 2].min()} and min h {boxes[..., 3].min()}"
        )

    a, b, c, d = np.moveaxis(boxes, -1, 0)
    if in_fmt == "xyxy":
        x1, y1, x2, y2 = a, b, c, d
    elif in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    else:
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2

    if out_fmt == "xyxy":
        columns = (x1, y1, x2, y2)
    elif out_fmt == "xywh":
        columns = (x1, y1, x2 - x1, y2 - y1)
    else:
        columns = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return np.stack(columns, axis=-1).astype(boxes.dtype, copy=False)


def box_area(boxes):
    """Compute the area (x2 - x1) * (y2 - y1) of each xyxy box.

    Parameters
    ----------
    boxes : array_like of shape (..., 4), xyxy with x1 <= x2, y1 <= y2

    Returns
    -------
    ndarray of shape (...,)
        float32 for float16 input, float64 for integer input, otherwise the
        input dtype.
    """
    boxes = xyxy_boxes(boxes, "boxes", "box_area", ndim=None)
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def clip_boxes_to_image(boxes, size):
    """Clip xyxy boxes to an image of ``size = (H, W)`` pixels.

    x coordinates are clipped to [0, W] and y coordinates to [0, H]. A box
    entirely outside the image becomes a zero-area box on its border.

    Parameters
    ----------
    boxes : array_like of shape (..., 4), xyxy
    size : pair of int or float (H, W)

    Returns
    -------
    ndarray of shape (..., 4)
    """
    boxes = xyxy_boxes(boxes, "boxes", "clip_boxes_to_image", ndim=None)
    if np.ndim(size) != 1 or len(size) != 2:
        raise ValueError(
            f"clip_boxes_to_image: size must be (H, W), got {size!r}"
        )
    height, width = size
    if not (height >= 0 and width >= 0):
        raise ValueError(
            f"clip_boxes_to_image: size must be non-negative, got {size!r}"
        )
    out = boxes.copy()
    out[..., 0::2] = np.clip(boxes[..., 0::2], 0, width)
    out[..., 1::2] = np.clip(boxes[..., 1::2], 0, height)
    return out


def remove_small_boxes(boxes, min_size):
    """Return the indices of the boxes whose width and height are >= ``min_size``.

    Parameters
    ----------
    boxes : array_like of shape (N, 4), xyxy
    min_size : float
        In the units of ``boxes`` (pixels).

    Returns
    -------
    ndarray of shape (M,), int64
        Increasing indices into ``boxes``.
    """
    boxes = xyxy_boxes(boxes, "boxes", "remove_small_boxes")
    if not np.isscalar(min_size) or not min_size >= 0:
        raise ValueError(
            f"remove_small_boxes: min_size must be a number >= 0, got {min_size!r}"
        )
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return np.flatnonzero((widths >= min_size) & (heights >= min_size)).astype(np.int64)
