"""Identity datasets: image folders and the humpback-whale CSV.

Every reader returns an ``IdentityData``: image file paths, one integer label
per image and the identity name of each label. ``UNKNOWN_LABEL`` (-1) marks
images whose identity is not known ("new_whale"). The embedded benchmarks,
which need no files, are in ``nnscratch.siamese.benchmarks``.
"""

import csv
import dataclasses
import os

import numpy as np
from PIL import Image

from nnscratch.data.images import load_image
from nnscratch.siamese.mining import UNKNOWN_LABEL

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclasses.dataclass
class IdentityData:
    """Image files with their identities.

    Attributes
    ----------
    paths : list of str
    labels : ndarray of shape (N,), int64
        Index into ``identities``, or ``UNKNOWN_LABEL`` (-1).
    identities : list of str
        Identity names, sorted.
    """

    paths: list
    labels: np.ndarray
    identities: list


def is_image_file(name):
    """Return whether a file name has an image suffix and is not hidden."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def read_image_folder(root):
    """Read an identity folder: one subfolder per identity, images inside.

    Parameters
    ----------
    root : str or os.PathLike
        ``root/<identity>/<image>``; files directly in ``root`` and hidden
        files are ignored. Images are found by suffix (``IMAGE_EXTENSIONS``,
        any case).

    Returns
    -------
    IdentityData
        Identities sorted by name, images sorted by file name.

    Raises
    ------
    ValueError
        If ``root`` is not a folder, has no identity subfolder, or a
        subfolder has no image.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise ValueError(
            f"identity folder not found: {root!r}; expected a folder with one "
            "subfolder of images per identity"
        )
    identities = sorted(entry.name for entry in os.scandir(root)
                        if entry.is_dir() and not entry.name.startswith("."))
    if not identities:
        raise ValueError(
            f"{root!r} has no identity subfolders; expected {root}/<identity>/<image>"
        )

    paths, labels = [], []
    for label, identity in enumerate(identities):
        folder = os.path.join(root, identity)
        names = sorted(name for name in os.listdir(folder) if is_image_file(name))
        if not names:
            raise ValueError(
                f"identity folder {folder!r} has no images with a suffix in "
                f"{IMAGE_EXTENSIONS}; add images or remove the folder"
            )
        paths += [os.path.join(folder, name) for name in names]
        labels += [label] * len(names)
    return IdentityData(paths, np.array(labels, dtype=np.int64), identities)


def read_whale_csv(csv_path, image_dir=None, unknown_identity="new_whale",
                   known_identities=None):
    """Read the Kaggle humpback-whale layout: a CSV of (image file, identity).

    Parameters
    ----------
    csv_path : str or os.PathLike
        A CSV whose header names the columns ``Image`` and ``Id`` (any case),
        as the challenge's ``train.csv`` does; other columns are ignored.
    image_dir : str or os.PathLike, optional
        The folder of the image files; defaults to the CSV's folder.
    unknown_identity : str or None
        The identity value of unnamed individuals. Those images get
        ``UNKNOWN_LABEL``; they serve only as negatives in training.
    known_identities : sequence of str, optional
        If given, every other identity (except ``unknown_identity``) is an
        error, such as an identity missing from a gallery.

    Returns
    -------
    IdentityData
        Identities sorted by name; rows keep the CSV's order.

    Raises
    ------
    ValueError
        If the header lacks a column, or a row has an empty field, names a
        missing image file or an identity outside ``known_identities``. The
        message names the CSV line.
    """
    csv_path = os.fspath(csv_path)
    if not os.path.isfile(csv_path):
        raise ValueError(f"whale CSV not found: {csv_path!r}")
    image_dir = os.path.dirname(os.path.abspath(csv_path)) if image_dir is None \
        else os.fspath(image_dir)
    known = None if known_identities is None else set(known_identities)

    rows = []
    with open(csv_path, newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        columns = {name.strip().lower(): index for index, name in enumerate(header or [])}
        if "image" not in columns or "id" not in columns:
            raise ValueError(
                f"{csv_path!r} line 1: expected a header with the columns 'Image' and "
                f"'Id', got {header!r}"
            )
        for line_number, row in enumerate(reader, start=2):
            if not any(field.strip() for field in row):
                continue
            where = f"{csv_path!r} line {line_number}"
            if len(row) <= max(columns["image"], columns["id"]):
                raise ValueError(f"{where}: expected an image and an id, got {row!r}")
            image = row[columns["image"]].strip()
            identity = row[columns["id"]].strip()
            if not image or not identity:
                raise ValueError(
                    f"{where}: the image or the identity is empty ({row!r}); give "
                    f"both, or {unknown_identity!r} for an unnamed individual"
                )
            path = os.path.join(image_dir, image)
            if not os.path.isfile(path):
                raise ValueError(
                    f"{where}: image file {image!r} not found in {image_dir!r}; fix "
                    "the name, add the file or pass the right image folder"
                )
            if known is not None and identity != unknown_identity \
                    and identity not in known:
                raise ValueError(
                    f"{where}: unknown identity {identity!r} for image {image!r}; "
                    f"expected one of the {len(known)} known identities or "
                    f"{unknown_identity!r}"
                )
            rows.append((path, identity))
    if not rows:
        raise ValueError(f"{csv_path!r} has a header but no image rows")

    identities = sorted({identity for _, identity in rows
                         if identity != unknown_identity})
    index = {identity: label for label, identity in enumerate(identities)}
    labels = np.array([index.get(identity, UNKNOWN_LABEL) for _, identity in rows],
                      dtype=np.int64)
    return IdentityData([path for path, _ in rows], labels, identities)


def load_images(paths, image_size, channels=1):
    """Read image files as one network input batch, resized to a square.

    Parameters
    ----------
    paths : sequence of str
    image_size : int
        Output H = W, in pixels. Images are resized without keeping the
        aspect ratio (bilinear), as the network expects a fixed shape.
    channels : {1, 3}
        Grey or RGB.

    Returns
    -------
    ndarray of shape (N, channels, image_size, image_size), float32
        Values in [0, 1].
    """
    if channels not in (1, 3):
        raise ValueError(f"load_images: channels must be 1 or 3, got {channels!r}")
    mode = "L" if channels == 1 else "RGB"
    batch = np.empty((len(paths), channels, image_size, image_size), dtype=np.float32)
    for row, path in enumerate(paths):
        pixels = load_image(path, mode=mode)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels  # (H, W, channels)
        for channel in range(channels):
            plane = Image.fromarray(np.ascontiguousarray(pixels[..., channel]))
            resized = plane.resize((image_size, image_size), Image.BILINEAR)
            batch[row, channel] = np.asarray(resized, dtype=np.float32)
    return np.clip(batch, 0, 1)


def split_validation(labels, fraction=0.1, rng=None):
    """Hold out a share of each identity's images for validation.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    fraction : float in [0, 1)
        Share of each identity's images to hold out, rounded, at least one for
        identities with three or more images. Identities with fewer images and
        unknown images stay in training.
    rng : numpy.random.Generator, optional

    Returns
    -------
    train, validation : ndarray of int64
        Disjoint sorted indices that cover every image.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"split_validation: fraction must be in [0, 1), got {fraction!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    labels = np.asarray(labels)
    held_out = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if label < 0 or len(members) < 3 or fraction == 0:
            continue
        count = max(1, int(round(fraction * len(members))))
        held_out.append(rng.choice(members, count, replace=False))
    validation = np.sort(np.concatenate(held_out)) if held_out else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(len(labels)), validation)
    return train.astype(np.int64), validation.astype(np.int64)
