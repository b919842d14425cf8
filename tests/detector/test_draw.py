"""Drawing detections: boxes in their class colour, labels kept in the image."""

import numpy as np
from PIL import ImageFont

from nnscratch.detector.draw import PALETTE, draw_detections


def label_size(text):
    left, top, right, bottom = ImageFont.load_default().getbbox(text)
    return right - left + 2, bottom - top + 2


def test_label_of_box_at_right_edge_stays_inside():
    image = np.zeros((64, 64, 3), np.float32)
    detection = {"box": [50.0, 30.0, 63.0, 60.0], "label": 0, "score": 0.99}
    drawn = np.asarray(draw_detections(image, [detection], ["face"]))
    width, height = label_size("face 0.99")
    assert width > 64 - 50, "the label must be wider than the gap it is tested in"
    colour = PALETTE[0]
    label_top = 30 - height
    # The label's background starts where it ends flush with the right edge.
    np.testing.assert_array_equal(drawn[label_top, 64 - width], colour)
    np.testing.assert_array_equal(drawn[label_top, 63], colour)
    np.testing.assert_array_equal(drawn[label_top, 64 - width - 1], [0, 0, 0])


def test_label_of_box_at_top_goes_inside_box():
    image = np.zeros((64, 64, 3), np.float32)
    detection = {"box": [2.0, 1.0, 40.0, 40.0], "label": 1, "score": 0.7}
    drawn = np.asarray(draw_detections(image, [detection], ["face", "zero"]))
    width, height = label_size("zero 0.70")
    colour = PALETTE[1]
    # No room above row 1, so the label starts at the box's top-left corner.
    np.testing.assert_array_equal(drawn[1, 2], colour)
    np.testing.assert_array_equal(drawn[1 + height, 2 + width], colour)
