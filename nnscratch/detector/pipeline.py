"""Everything between a DetectionData and the network: input size, anchors,
target encoding and batches.

The network takes square ``image_size`` inputs (letterboxed); its grid has
``image_size / grid_stride`` cells a side. Anchors are chosen by k-means with
distance 1 - IoU on the training boxes, in pixels of the network input, and
stored in cell units, the unit of ``nnscratch.detection.yolo``.
"""

import warnings

import numpy as np

from nnscratch.detection.anchors import kmeans_anchors
from nnscratch.detection.yolo import yolo_encode
from nnscratch.detector.augment import random_augment
from nnscratch.detector.data import letterbox
from nnscratch.detector.model import GRID_STRIDE


def check_image_size(image_size, grid_stride=GRID_STRIDE):
    """Return ``image_size`` if it is a positive multiple of the grid stride."""
    if not isinstance(image_size, (int, np.integer)) or image_size < grid_stride \
            or image_size % grid_stride:
        raise ValueError(
            f"image size must be a positive multiple of {grid_stride} (the "
            f"network's grid stride), got {image_size!r}"
        )
    return int(image_size)


def letterbox_all(data, image_size):
    """Letterbox every image of ``data`` to ``image_size``.

    Returns
    -------
    images : ndarray of shape (N, image_size, image_size, 3), float32
    boxes : list of ndarray of shape (M_i, 4), pixel xyxy in the new images
    labels : list of ndarray of shape (M_i,), int64
    transforms : list of (scale, pad_x, pad_y)
    """
    images = np.empty((len(data), image_size, image_size, 3), np.float32)
    boxes, transforms = [], []
    for index, (image, image_boxes) in enumerate(zip(data.images, data.boxes)):
        images[index], moved, transform = letterbox(image, image_boxes, image_size)
        boxes.append(moved)
        transforms.append(transform)
    return images, boxes, list(data.labels), transforms


def choose_anchors(boxes, num_anchors, seed=0, grid_stride=GRID_STRIDE):
    """Run k-means (distance 1 - IoU) on pixel boxes; return anchors in cells.

    Returns
    -------
    anchors : ndarray of shape (num_anchors, 2)
        (width, height) in cell units, sorted by area.
    mean_iou : float
        Mean IoU of each training box with its best anchor.
    """
    all_boxes = np.concatenate([b.reshape(-1, 4) for b in boxes])
    wh = np.stack([all_boxes[:, 2] - all_boxes[:, 0],
                   all_boxes[:, 3] - all_boxes[:, 1]], axis=1)
    wh = wh[(wh > 0).all(axis=1)]
    if len(wh) < num_anchors:
        raise ValueError(
            f"k-means needs at least num_anchors={num_anchors} training boxes, "
            f"got {len(wh)}"
        )
    anchors, mean_iou = kmeans_anchors(wh, k=num_anchors, seed=seed)
    anchors = anchors[np.argsort(anchors.prod(axis=1))] / grid_stride
    return anchors, float(mean_iou)


class DetectionBatches:
    """Batches of letterboxed images and YOLO targets, for ``Trainer``.

    Parameters
    ----------
    data : DetectionData
    image_size : int
    anchors : ndarray of shape (A, 2), cell units
    augment : bool
        Apply ``random_augment`` (flip, zoom, shift, colour) to training batches.
    grid_stride : int
        Input pixels per grid cell of the network.
    """

    def __init__(self, data, image_size, anchors, augment=True, grid_stride=GRID_STRIDE):
        self.image_size = check_image_size(image_size, grid_stride)
        self.grid = self.image_size // grid_stride
        self.anchors = np.asarray(anchors, np.float64)
        self.num_classes = len(data.class_names)
        self.augment = augment
        self.images, self.boxes, self.labels, _ = letterbox_all(data, self.image_size)
        self.collisions = 0

    def __len__(self):
        return len(self.images)

    def encode(self, boxes, labels):
        """Return the (GH, GW, A, 5 + K) target of one image's pixel boxes."""
        with warnings.catch_warnings():
            # Two objects in one cell and anchor are counted, not shown per batch.
            warnings.simplefilter("ignore", UserWarning)
            target, collisions = yolo_encode(
                boxes, labels, (self.image_size, self.image_size), self.grid,
                self.anchors, self.num_classes)
        self.collisions += collisions
        return target

    def batch(self, indices, rng, train):
        """Return x of shape (n, 3, S, S) and targets (n, GH, GW, A, 5 + K)."""
        x = np.empty((len(indices), 3, self.image_size, self.image_size), np.float32)
        targets = []
        for row, index in enumerate(indices):
            image, boxes, labels = self.images[index], self.boxes[index], self.labels[index]
            if train and self.augment:
                image, boxes, labels = random_augment(image, boxes, labels, rng)
            x[row] = image.transpose(2, 0, 1)  # (3, S, S)
            targets.append(self.encode(boxes, labels))
        return x, np.stack(targets).astype(np.float32)
