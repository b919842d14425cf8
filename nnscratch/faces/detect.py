"""Find faces in a photograph by convolutional sliding windows.

The classifier of ``model.py`` looks at one 24 x 24 window. ``fc_to_conv``
turns its fully connected head into convolutions, so one forward pass over a
whole image scores every window at a stride of 4 pixels (OverFeat's trick).
To find faces of every size, the image is shrunk step by step (an image
pyramid) and each level gets one pass. Each output cell maps back to a square
box in the photograph, and non-max suppression keeps the best of overlapping
boxes.

Boxes are ``(x1, y1, x2, y2)`` in pixels of the input photograph, with
``x1 < x2`` and ``y1 < y2``; pixel ``(row, col)`` covers
``[col, col + 1) x [row, row + 1)``, so a box spans ``x2 - x1`` pixels.

References
----------
Sermanet, Eigen, Zhang, Mathieu, Fergus and LeCun, "OverFeat: Integrated
Recognition, Localization and Detection using Convolutional Networks", ICLR
2014.
"""

import os

import numpy as np

from nnscratch.faces.data import FACE_WINDOW, to_grey
from nnscratch.faces.model import FACE_MODEL, WINDOW_STRIDE, face_probability
from nnscratch.layers import fc_to_conv

DEFAULT_THRESHOLD = 0.98
"""Face probability a window needs to be reported."""

DEFAULT_IOU_THRESHOLD = 0.3
"""Non-max suppression drops a box whose IoU with a kept box exceeds this."""

DEFAULT_SCALE_STEP = 1.2
"""Ratio between the sizes of neighbouring pyramid levels."""

WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights",
                            "faces.npz")
"""The shipped classifier weights."""


def pyramid_shapes(height, width, window=FACE_WINDOW, min_size=FACE_WINDOW,
                   max_size=None, scale_step=DEFAULT_SCALE_STEP):
    """List the image sizes of a pyramid that searches faces of a size range.

    Level k shrinks the image by ``window / (min_size * scale_step**k)``, so
    its windows cover squares of side ``min_size * scale_step**k`` in the
    original image. Levels stop before the face size passes ``max_size`` or
    the shrunk image gets smaller than one window.

    Parameters
    ----------
    height, width : int
        Size of the photograph, in pixels.
    window : int
    min_size, max_size : float
        Face sides to search, in pixels of the photograph. ``max_size``
        defaults to the shorter side of the photograph.
    scale_step : float
        Greater than 1.

    Returns
    -------
    list of (int, int)
        (height, width) of each level, largest first.
    """
    if max_size is None:
        max_size = min(height, width)
    if not scale_step > 1:
        raise ValueError(f"pyramid_shapes: scale_step must be > 1, got {scale_step!r}")
    if not min_size > 0:
        raise ValueError(f"pyramid_shapes: min_size must be > 0, got {min_size!r}")

    shapes = []
    face_size = float(min_size)
    while face_size <= max_size * (1 + 1e-9):
        shrink = window / face_size
        shape = (round(height * shrink), round(width * shrink))
        if min(shape) < window:
            break
        shapes.append(shape)
        face_size *= scale_step
    return shapes


def cells_to_boxes_xyxy(rows, cols, level_shape, image_shape, window=FACE_WINDOW,
                        stride=WINDOW_STRIDE):
    """Map output cells of one pyramid level to boxes in the photograph.

    Cell ``(i, j)`` scored the level's pixels ``[S*i, S*i + window)`` by
    ``[S*j, S*j + window)``, where S is the stride. Each coordinate is then
    scaled by the ratio of photograph size to level size.

    Parameters
    ----------
    rows, cols : ndarray of shape (M,), int
    level_shape, image_shape : pair of int
        (height, width) of the pyramid level and of the photograph.

    Returns
    -------
    ndarray of shape (M, 4), float64
        ``(x1, y1, x2, y2)`` in photograph pixels.
    """
    scale_y = image_shape[0] / level_shape[0]
    scale_x = image_shape[1] / level_shape[1]
    top = np.asarray(rows, np.float64) * stride
    left = np.asarray(cols, np.float64) * stride
    return np.stack([left * scale_x, top * scale_y, (left + window) * scale_x,
                     (top + window) * scale_y], axis=1)


def resize_level(image, shape):
    """Shrink a grey image to ``shape`` with anti-aliasing (one pyramid level).

    Returns
    -------
    ndarray of shape ``shape``, float32
    """
    from skimage.transform import resize

    if tuple(shape) == image.shape:
        return image.astype(np.float32, copy=False)
    return resize(image, shape, anti_aliasing=True).astype(np.float32)


class FaceDetector:
    """Sliding-window face detector built around a trained window classifier.

    Parameters
    ----------
    classifier : Sequential
        Maps (N, 1, window, window) to (N, 2) logits, as built by
        ``build_face_classifier``.
    window : int
        The classifier's window side, in pixels.

    Attributes
    ----------
    network : Sequential
        ``classifier`` with its head turned into convolutions, in eval mode.
    """

    def __init__(self, classifier, window=FACE_WINDOW):
        self.window = int(window)
        self.network = fc_to_conv(classifier, (1, 1, self.window, self.window))
        self.network.eval()
        self.dtype = self.network.parameters()[0].data.dtype

    def score_level(self, level):
        """Score every window of one grey image in one fully convolutional pass.

        Parameters
        ----------
        level : ndarray of shape (H, W), H and W >= window

        Returns
        -------
        ndarray of shape (OH, OW)
            Face probability of the window at ``[4i, 4i + window)`` x
            ``[4j, 4j + window)``; OH = (H - window) // 4 + 1.
        """
        x = level.astype(self.dtype)[None, None]  # (1, 1, H, W)
        logits = self.network.forward(x)  # (1, 2, OH, OW)
        return face_probability(logits)[0]

    def score_pyramid(self, image, min_size=FACE_WINDOW, max_size=None,
                      scale_step=DEFAULT_SCALE_STEP):
        """Score the windows of every pyramid level of a grey image.

        Returns
        -------
        list of (level, scores)
            ``level`` of shape (h, w), float32, and ``scores`` of shape
            (OH, OW), one pair per level, largest level first.
        """
        shapes = pyramid_shapes(*image.shape, window=self.window, min_size=min_size,
                                max_size=max_size, scale_step=scale_step)
        results = []
        for shape in shapes:
            level = resize_level(image, shape)
            results.append((level, self.score_level(level)))
        return results

    def detect(self, image, threshold=DEFAULT_THRESHOLD,
               iou_threshold=DEFAULT_IOU_THRESHOLD, min_size=FACE_WINDOW,
               max_size=None, scale_step=DEFAULT_SCALE_STEP):
        """Find the faces in a photograph.

        Parameters
        ----------
        image : ndarray of shape (H, W), (H, W, 3) or (H, W, 4)
            uint8 in [0, 255] or float in [0, 1]; colour is turned to grey.
        threshold : float in [0, 1]
            Face probability a window needs before non-max suppression.
        iou_threshold : float in [0, 1]
            Non-max suppression drops boxes overlapping a better one by more.
        min_size, max_size : float
            Face sides to search, in pixels (``max_size`` defaults to the
            image's shorter side).
        scale_step : float
            Size ratio between pyramid levels.

        Returns
        -------
        boxes : ndarray of shape (M, 4), float64
            ``(x1, y1, x2, y2)`` in pixels, best score first.
        scores : ndarray of shape (M,), float64
            Face probabilities, descending.
        """
        from nnscratch.detection import nms

        if not 0 <= threshold <= 1:
            raise ValueError(f"detect: threshold must be in [0, 1], got {threshold!r}")
        if not 0 <= iou_threshold <= 1:
            raise ValueError(
                f"detect: iou_threshold must be in [0, 1], got {iou_threshold!r}"
            )
        grey = to_grey(image)
        if min(grey.shape) < self.window:
            raise ValueError(
                f"detect: the image is {grey.shape[0]}x{grey.shape[1]} pixels, "
                f"smaller than the {self.window}-pixel window; upscale it first"
            )

        largest = min(grey.shape) if max_size is None else max_size
        if min_size > largest:
            raise ValueError(
                f"detect: min_size {min_size:g} is larger than the largest face "
                f"searched for, {largest:g} pixels (max_size, or the image's "
                "shorter side); give a smaller min_size"
            )
        all_boxes, all_scores = [], []
        for level, scores in self.score_pyramid(grey, min_size, max_size, scale_step):
            rows, cols = np.nonzero(scores >= threshold)
            all_boxes.append(cells_to_boxes_xyxy(rows, cols, level.shape, grey.shape,
                                                 self.window))
            all_scores.append(scores[rows, cols].astype(np.float64))
        boxes = np.concatenate(all_boxes)  # (M, 4)
        scores = np.concatenate(all_scores)  # (M,)
        if len(scores) == 0:
            return boxes, scores
        keep = nms(boxes, scores, iou_threshold, score_threshold=None)
        return boxes[keep], scores[keep]


def load_face_detector(weights=None):
    """Build a ``FaceDetector`` from a checkpoint (the shipped one by default).

    Parameters
    ----------
    weights : str or os.PathLike, optional
        A checkpoint written by ``nnscratch.faces.train``.

    Returns
    -------
    FaceDetector
    """
    from nnscratch.zoo import load_model

    path = WEIGHTS_PATH if weights is None else os.fspath(weights)
    classifier, metadata = load_model(path)
    model_name = metadata.get("model", {}).get("name", "unknown")
    if model_name != FACE_MODEL:
        raise ValueError(
            f"{path} is not a face checkpoint (it contains the model "
            f"{model_name!r}); give one written by `nnscratch train faces`, or "
            "omit --weights for the shipped face weights"
        )
    window = metadata.get("model", {}).get("config", {}).get("window", FACE_WINDOW)
    return FaceDetector(classifier, window=window)


def detect_faces(image, weights=None, **options):
    """Find the faces in a photograph with a checkpoint's classifier.

    A shortcut for ``load_face_detector(weights).detect(image, **options)``.
    ``FaceDetector.detect`` documents the options and the returned arrays.
    """
    return load_face_detector(weights).detect(image, **options)

