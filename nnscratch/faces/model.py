"""The face / non-face classifier: a small ConvNet with a fully connected head.

Layout for a 24 x 24 grey window, in the spirit of the course's small net
(5x5 convolution, 2x2 max pool, fully connected layers, softmax)::

    1x24x24 -> 16 filters 5x5 -> 16x20x20 -> ReLU -> 2x2 max pool -> 16x10x10
            -> 32 filters 3x3 -> 32x8x8   -> ReLU -> 2x2 max pool -> 32x4x4
            -> Flatten (512) -> FC 128 -> ReLU -> FC 2 (non-face, face)

No layer pads, so ``nnscratch.layers.fc_to_conv`` turns the head into a 4x4
convolution and a 1x1 convolution, and the converted net slides the window
over a larger image with a stride of 4 pixels (two 2x2 pools).
"""

import numpy as np

from nnscratch.faces.data import FACE_WINDOW
from nnscratch.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from nnscratch.model import Sequential
from nnscratch.zoo import register_model

FACE_CLASS = 1
"""Index of the face class in the classifier's two outputs."""

WINDOW_STRIDE = 4
"""Pixels between neighbouring windows of the fully convolutional pass."""


FACE_MODEL = "faces"
"""Zoo name under which face checkpoints record their architecture."""


@register_model(FACE_MODEL)
def build_face_classifier(window=FACE_WINDOW, channels=(16, 32), hidden=128,
                          dtype=np.float32, rng=None):
    """Build the face / non-face classifier for grey ``window`` x ``window`` input.

    Parameters
    ----------
    window : int
        Window side in pixels. It must leave an even size before each pool,
        so the converted net's windows line up with the classifier's crops:
        ``window % 4 == 0`` and ``window >= 16``.
    channels : pair of int
        Filters of the 5x5 and the 3x3 convolution.
    hidden : int
        Units of the hidden fully connected layer.
    dtype : numpy dtype
    rng : numpy.random.Generator, optional
        Draws the initial weights; the library generator when omitted.

    Returns
    -------
    Sequential
        Maps (N, 1, window, window) to (N, 2) logits (non-face, face).
    """
    if not isinstance(window, (int, np.integer)) or window < 16 or window % 4:
        raise ValueError(
            f"build_face_classifier: window must be an int >= 16 divisible by 4, "
            f"got {window!r}"
        )
    if len(channels) != 2:
        raise ValueError(
            f"build_face_classifier: channels must be a pair of ints, got {channels!r}"
        )
    first, second = (int(c) for c in channels)
    feature_side = ((window - 4) // 2 - 2) // 2
    return Sequential(
        Conv2d(1, first, 5, dtype=dtype, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Conv2d(first, second, 3, dtype=dtype, rng=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(second * feature_side * feature_side, int(hidden), dtype=dtype, rng=rng),
        ReLU(),
        Linear(int(hidden), 2, dtype=dtype, rng=rng),
    )


def face_probability(logits):
    """Return the softmax probability of the face class.

    Parameters
    ----------
    logits : ndarray of shape (N, 2) or (N, 2, OH, OW), float

    Returns
    -------
    ndarray of shape (N,) or (N, OH, OW), same dtype
        softmax(logits)[:, 1] = 1 / (1 + exp(z0 - z1)), computed stably.
    """
    difference = logits[:, FACE_CLASS] - logits[:, 1 - FACE_CLASS]
    # sigmoid(d) without overflow for large |d|.
    exp_neg = np.exp(-np.abs(difference))
    return np.where(difference >= 0, 1 / (1 + exp_neg), exp_neg / (1 + exp_neg))
