"""Draw detections on an image: one colour per class, label and score."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Distinct colours for up to ten classes, then repeated.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)


def pixel_rectangle(box, width, height):
    """Return the inclusive integer corners (x1, y1, x2, y2) drawn for a box.

    Box edges are rounded to the nearest pixel edge and clipped to the image;
    the last pixel row and column inside the box are ``x2 - 1`` and ``y2 - 1``.
    """
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, x2 = min(max(x1, 0), width - 1), min(max(x2, 1), width)
    y1, y2 = min(max(y1, 0), height - 1), min(max(y2, 1), height)
    return x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)


def draw_detections(image, detections, class_names, line_width=2):
    """Return a PIL image with each detection's box, class name and score.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
    detections : list of dict
        Each with "box" (pixel xyxy), "label" (class index) and "score".
    class_names : sequence of str
    """
    pil = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    font = ImageFont.load_default()
    for detection in detections:
        x1, y1, x2, y2 = pixel_rectangle(detection["box"], *pil.size)
        colour = PALETTE[detection["label"] % len(PALETTE)]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line_width)
        text = f"{class_names[detection['label']]} {detection['score']:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        label_width, label_height = right - left + 2, bottom - top + 2
        # The label goes above the box where it fits, else inside it. It moves
        # left so that a box at the right edge keeps its whole label in view.
        text_y = y1 - label_height if y1 >= label_height else y1
        text_x = max(0, min(x1, pil.size[0] - label_width))
        draw.rectangle((text_x, text_y, text_x + label_width, text_y + label_height),
                       fill=colour)
        draw.text((text_x + 1, text_y), text, fill=(0, 0, 0), font=font)
    return pil
