"""Run a trained detector on images: letterbox, forward, decode, NMS."""

import os

import numpy as np

from nnscratch.detection.yolo import yolo_decode
from nnscratch.detector.data import letterbox, undo_letterbox
from nnscratch.detector.model import GRID_STRIDE
from nnscratch.detector.pipeline import check_image_size

SHIPPED_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights",
                               "detector.npz")


class Detector:
    """A YOLO network with what it needs to turn images into boxes.

    Parameters
    ----------
    model : Sequential
        The network, (N, 3, S, S) -> (N, A * (5 + K), S / 16, S / 16).
    anchors : ndarray of shape (A, 2)
        Anchor (width, height) in cell units.
    class_names : sequence of str
    image_size : int
        Side of the square network input; images are letterboxed to it.
    training : dict, optional
        The settings the weights were trained with (checkpoint metadata).
    grid_stride : int
        Input pixels per grid cell of ``model``.
    """

    def __init__(self, model, anchors, class_names, image_size, training=None,
                 grid_stride=GRID_STRIDE):
        self.training = dict(training or {})
        self.model = model.eval()
        self.anchors = np.asarray(anchors, np.float64)
        self.class_names = tuple(class_names)
        self.image_size = check_image_size(image_size, grid_stride)
        self.grid_stride = grid_stride

    @classmethod
    def from_checkpoint(cls, path=None, image_size=None):
        """Load a detector checkpoint (the shipped weights when ``path`` is None).

        ``image_size`` overrides the training input size.
        """
        from nnscratch.zoo import load_model

        path = SHIPPED_WEIGHTS if path is None else os.fspath(path)
        model, metadata = load_model(path)
        detector_info = metadata.get("detector")
        if detector_info is None:
            model_name = metadata.get("model", {}).get("name", "unknown")
            raise ValueError(
                f"{path} is not a detector checkpoint (it contains the model "
                f"{model_name!r}); pass weights written by `nnscratch train detector`"
            )
        size = image_size or detector_info["image_size"]
        return cls(model, detector_info["anchors"], detector_info["class_names"], size,
                   metadata.get("training"),
                   detector_info.get("grid_stride", GRID_STRIDE))

    def predict_batch(self, x, score_threshold=0.6, iou_threshold=0.5):
        """Detect objects in letterboxed inputs.

        Parameters
        ----------
        x : ndarray of shape (N, 3, S, S), float32

        Returns
        -------
        list of N dicts with ``boxes`` (M, 4) pixel xyxy in the input, ``scores``
        (M,) and ``labels`` (M,).
        """
        output = self.model.forward(x)
        return yolo_decode(output, x.shape[2:], self.anchors, score_threshold,
                           iou_threshold)

    def detect(self, image, score_threshold=0.6, iou_threshold=0.5):
        """Detect objects in one image of any size.

        Parameters
        ----------
        image : ndarray of shape (H, W, 3), float32 in [0, 1]

        Returns
        -------
        list of dict
            One per object, highest score first: ``box`` (pixel xyxy in
            ``image``, as floats), ``label`` (int), ``class_name`` and
            ``score``.
        """
        boxed, _, transform = letterbox(image, np.zeros((0, 4)), self.image_size)
        x = boxed.transpose(2, 0, 1)[None]  # (1, 3, S, S)
        found = self.predict_batch(np.ascontiguousarray(x), score_threshold,
                                   iou_threshold)[0]
        boxes = undo_letterbox(found["boxes"], transform, image.shape)
        return [
            {"box": [float(v) for v in box], "label": int(label),
             "class_name": self.class_names[label], "score": float(score)}
            for box, label, score in zip(boxes, found["labels"], found["scores"])
        ]
