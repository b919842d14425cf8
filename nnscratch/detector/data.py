"""A detection dataset in memory: images, pixel boxes and class labels.

Every source (the embedded dataset, a YOLO-format folder, a COCO JSON file)
becomes a ``DetectionData``. ``letterbox`` fits each image into the square
network input without distorting it, and moves its boxes the same way.
"""

import dataclasses

import numpy as np
from PIL import Image


@dataclasses.dataclass
class DetectionData:
    """Images with their boxes.

    Attributes
    ----------
    class_names : tuple of str
    images : list of ndarray of shape (H_i, W_i, 3), float32 in [0, 1]
    boxes : list of ndarray of shape (M_i, 4), float32
        Pixel xyxy, 0 <= x1 < x2 <= W_i and 0 <= y1 < y2 <= H_i.
    labels : list of ndarray of shape (M_i,), int64
    names : list of str
        One name per image (its file name, or a generated one).
    """

    class_names: tuple
    images: list
    boxes: list
    labels: list
    names: list

    def __len__(self):
        return len(self.images)


def letterbox(image, boxes, size):
    """Scale ``image`` to fit ``size`` x ``size`` and pad the rest with grey.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32
    boxes : ndarray of shape (M, 4), pixel xyxy
    size : int

    Returns
    -------
    out : ndarray of shape (size, size, 3), float32
    out_boxes : ndarray of shape (M, 4), pixel xyxy in ``out``
    transform : (scale, pad_x, pad_y)
        ``out_xy = in_xy * scale + pad``; invert it to map detections back.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2

    resized = image
    if (new_h, new_w) != (height, width):
        pil = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
        resized = np.asarray(pil.resize((new_w, new_h), Image.BILINEAR), np.float32) / 255
    out = np.full((size, size, 3), 0.5, dtype=np.float32)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized

    out_boxes = np.asarray(boxes, np.float32).reshape(-1, 4) * scale
    out_boxes[:, [0, 2]] += pad_x
    out_boxes[:, [1, 3]] += pad_y
    return out, out_boxes, (scale, pad_x, pad_y)


def undo_letterbox(boxes, transform, image_shape):
    """Map pixel boxes from the letterboxed input back to the original image."""
    scale, pad_x, pad_y = transform
    out = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - pad_x) / scale
    out[:, [1, 3]] = (out[:, [1, 3]] - pad_y) / scale
    height, width = image_shape[:2]
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out
