"""Detection augmentation that moves the boxes with the pixels.

Each transform takes an image (H, W, 3) in [0, 1] and its pixel xyxy boxes,
and returns both transformed, so a box always covers the same object.
"""

import numpy as np
from PIL import Image


def hflip(image, boxes):
    """Mirror left-right: x -> W - x, with x1 and x2 swapped to stay ordered."""
    width = image.shape[1]
    flipped = boxes.copy()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), flipped


def scale_translate(image, boxes, labels, scale, shift, min_visible=0.4, min_side=4):
    """Zoom about the image centre by ``scale`` and shift by ``shift`` pixels.

    A pixel at ``p`` moves to ``(p - c) * scale + c + shift`` where ``c`` is the
    centre; uncovered pixels become grey 0.5. Boxes move the same way and are
    clipped to the image; a box keeping less than ``min_visible`` of its area,
    or with a side under ``min_side`` pixels, is dropped with its label.

    Returns
    -------
    image : ndarray of shape (H, W, 3)
    boxes : ndarray of shape (M', 4)
    labels : ndarray of shape (M',)
    """
    height, width = image.shape[:2]
    centre = np.array([width / 2, height / 2])
    offset = centre + np.asarray(shift, np.float64) - centre * scale
    # PIL maps each output pixel back to its input: in = (out - offset) / scale.
    coefficients = (1 / scale, 0, -offset[0] / scale, 0, 1 / scale, -offset[1] / scale)
    pil = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    moved = pil.transform((width, height), Image.AFFINE, coefficients,
                          resample=Image.BILINEAR, fillcolor=(128, 128, 128))
    out = np.asarray(moved, np.float32) / 255

    new_boxes = boxes * scale
    new_boxes[:, [0, 2]] += offset[0]
    new_boxes[:, [1, 3]] += offset[1]
    area = (new_boxes[:, 2] - new_boxes[:, 0]) * (new_boxes[:, 3] - new_boxes[:, 1])
    new_boxes[:, [0, 2]] = np.clip(new_boxes[:, [0, 2]], 0, width)
    new_boxes[:, [1, 3]] = np.clip(new_boxes[:, [1, 3]], 0, height)
    sides = np.minimum(new_boxes[:, 2] - new_boxes[:, 0], new_boxes[:, 3] - new_boxes[:, 1])
    visible = (new_boxes[:, 2] - new_boxes[:, 0]) * (new_boxes[:, 3] - new_boxes[:, 1])
    keep = (sides >= min_side) & (visible >= min_visible * np.maximum(area, 1e-9))
    return out, new_boxes[keep].astype(np.float32), labels[keep]


def colour_shift(image, gains, offset):
    """Scale each channel by ``gains`` (3,) and add ``offset``, clipped to [0, 1]."""
    return np.clip(image * np.asarray(gains, np.float32) + offset, 0, 1).astype(np.float32)


def random_augment(image, boxes, labels, rng, flip=0.5, scale_range=(0.75, 1.25),
                   shift_fraction=0.15, colour=0.15):
    """Apply a random flip, zoom, shift and colour shift.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
    boxes : ndarray of shape (M, 4), pixel xyxy
    labels : ndarray of shape (M,), int64
    rng : numpy.random.Generator
    flip : float
        Probability of a left-right mirror.
    scale_range : (float, float)
        Zoom factor range, drawn log-uniformly.
    shift_fraction : float
        Largest shift, as a fraction of the image side.
    colour : float
        Largest relative change of each channel's gain, and of the offset.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if rng.random() < flip:
        image, boxes = hflip(image, boxes)
    scale = float(np.exp(rng.uniform(*np.log(scale_range))))
    shift = rng.uniform(-shift_fraction, shift_fraction, 2) * np.array(image.shape[1::-1])
    image, boxes, labels = scale_translate(image, boxes, labels, scale, shift)
    gains = 1 + rng.uniform(-colour, colour, 3)
    offset = rng.uniform(-colour, colour) / 2
    return colour_shift(image, gains, offset), boxes, labels
