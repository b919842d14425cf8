"""Draw face detections on a photograph and describe them as JSON."""

import numpy as np

BOX_COLOR = (0, 255, 0)
"""RGB colour of the drawn boxes and score labels."""

BOX_WIDTH = 2
"""Line width of the drawn boxes, in pixels, drawn inwards from the box edge."""


def box_pixels_xyxy(box):
    """Return the inclusive pixel corners a drawn box covers.

    A box ``(x1, y1, x2, y2)`` with exclusive right and bottom edges is drawn
    from pixel ``(round(x1), round(y1))`` to ``(round(x2) - 1, round(y2) - 1)``.

    Returns
    -------
    tuple of int (left, top, right, bottom)
    """
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)


def draw_faces(image, boxes, scores):
    """Draw each box and its score on a copy of the photograph.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, 3)
        uint8, or float in [0, 1].
    boxes : ndarray of shape (M, 4)
        ``(x1, y1, x2, y2)`` in pixels.
    scores : ndarray of shape (M,)
        Face probabilities, written above each box.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
    """
    from PIL import Image, ImageDraw

    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)  # (H, W, 3)
    canvas = Image.fromarray(array[..., :3].copy())
    pen = ImageDraw.Draw(canvas)
    for box, score in zip(boxes, scores):
        left, top, right, bottom = box_pixels_xyxy(box)
        pen.rectangle((left, top, right, bottom), outline=BOX_COLOR, width=BOX_WIDTH)
        label_y = top - 11 if top >= 11 else bottom + 2
        pen.text((left, label_y), f"{score:.3f}", fill=BOX_COLOR)
    return np.asarray(canvas)


def detections_to_dict(boxes, scores, image_shape, source, settings):
    """Describe detections as a JSON-serialisable dict.

    Parameters
    ----------
    boxes : ndarray of shape (M, 4)
    scores : ndarray of shape (M,)
    image_shape : tuple of int
        (H, W) or (H, W, C) of the photograph.
    source : str
        Where the photograph came from (a path or a scikit-image name).
    settings : dict
        The detector options used (threshold, iou_threshold, ...).

    Returns
    -------
    dict
        ``{"image", "width", "height", "box_format", "settings", "faces"}``;
        ``faces`` is a list of ``{"box": [x1, y1, x2, y2], "score": s}`` in pixels,
        best score first.
    """
    faces = [
        {"box": [float(v) for v in box], "score": float(score)}
        for box, score in zip(boxes, scores)
    ]
    return {
        "image": source,
        "width": int(image_shape[1]),
        "height": int(image_shape[0]),
        "box_format": "xyxy pixels, x2 and y2 exclusive",
        "settings": dict(settings),
        "faces": faces,
    }
