"""Read and write the YOLO dataset layout used by Darknet and Ultralytics.

Layout::

    root/data.yaml              path, train/val/test folders, names
    root/images/<split>/x.png
    root/labels/<split>/x.txt   one object a line: "class cx cy w h"

Label values are normalised to the image: 0 <= cx, cy <= 1 and
0 < w, h <= 1, with the class an integer index into ``names``. A label file's
folder is its image's folder with the last ``images`` component replaced by
``labels``. An image with no label file has no objects.
"""

import os

import numpy as np

from nnscratch.data.images import load_image, save_image
from nnscratch.detector.data import DetectionData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class LabelError(ValueError):
    """A label file has a malformed line."""


def read_yaml(path):
    """Return the dataset YAML at ``path`` as a dict, with ``names`` a list."""
    import yaml

    not_a_dataset = (
        f"{path} is not a YOLO dataset YAML (a mapping with 'train', 'val' and "
        "'names' entries); give a dataset folder, its data.yaml, or a COCO JSON file"
    )
    try:
        with open(path, encoding="utf-8") as stream:
            config = yaml.safe_load(stream) or {}
    except (UnicodeDecodeError, yaml.YAMLError):
        raise ValueError(not_a_dataset) from None
    if not isinstance(config, dict):
        raise ValueError(not_a_dataset)
    if "names" not in config:
        raise ValueError(
            f"{path}: a YOLO dataset YAML needs a 'names' entry listing the classes"
        )
    names = config["names"]
    if isinstance(names, dict):
        keys = sorted(names)
        if keys != list(range(len(keys))):
            raise ValueError(f"{path}: 'names' keys must be 0..K-1, got {keys}")
        names = [names[k] for k in keys]
    config["names"] = [str(name) for name in names]
    return config


def parse_label_file(path, num_classes, width, height):
    """Read one label file into pixel xyxy boxes and labels.

    Raises
    ------
    LabelError
        Naming the file and line for a wrong column count, a non-number, an
        unknown class or a value out of range.
    """
    boxes, labels = [], []
    with open(path, encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            fields = line.split()
            if not fields:
                continue
            where = f"{path}, line {line_number}"
            if len(fields) != 5:
                raise LabelError(
                    f"{where}: expected 5 columns 'class cx cy w h', got "
                    f"{len(fields)}: {line.strip()!r}"
                )
            try:
                class_value = float(fields[0])
                cx, cy, w, h = (float(v) for v in fields[1:])
            except ValueError:
                raise LabelError(f"{where}: non-numeric value in {line.strip()!r}") from None
            if class_value != int(class_value) or not 0 <= class_value < num_classes:
                raise LabelError(
                    f"{where}: unknown class {fields[0]!r}; the dataset has "
                    f"classes 0..{num_classes - 1}"
                )
            if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
                raise LabelError(
                    f"{where}: box values must be normalised, 0 <= cx, cy <= 1 "
                    f"and 0 < w, h <= 1, got {line.strip()!r}"
                )
            x1 = max(0.0, (cx - w / 2) * width)
            y1 = max(0.0, (cy - h / 2) * height)
            x2 = min(float(width), (cx + w / 2) * width)
            y2 = min(float(height), (cy + h / 2) * height)
            boxes.append((x1, y1, x2, y2))
            labels.append(int(class_value))
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64)


def _label_path(image_path):
    folder, name = os.path.split(image_path)
    parts = folder.split(os.sep)
    if "images" not in parts:
        raise ValueError(
            f"{image_path}: a YOLO image must sit under an 'images' folder so its "
            "labels can be found under the matching 'labels' folder"
        )
    index = len(parts) - 1 - parts[::-1].index("images")
    parts[index] = "labels"
    return os.path.join(os.sep.join(parts), os.path.splitext(name)[0] + ".txt")


def _find_yaml(root):
    if os.path.isfile(root):
        return root
    for name in sorted(os.listdir(root)):
        if name.endswith((".yaml", ".yml")):
            return os.path.join(root, name)
    raise FileNotFoundError(
        f"{root}: no dataset YAML found; a YOLO dataset folder needs a file such "
        "as data.yaml with 'names' and the 'train'/'val'/'test' image folders"
    )


def read_yolo_dataset(path, split):
    """Read one split of a YOLO-format dataset.

    Parameters
    ----------
    path : str
        The dataset folder (holding the YAML) or the YAML file itself.
    split : {"train", "val", "test"}

    Returns
    -------
    DetectionData
    """
    yaml_path = _find_yaml(path)
    config = read_yaml(yaml_path)
    root = config.get("path") or os.path.dirname(os.path.abspath(yaml_path))
    if not os.path.isabs(root):
        root = os.path.join(os.path.dirname(os.path.abspath(yaml_path)), root)
    if split not in config:
        raise ValueError(f"{yaml_path}: no {split!r} entry naming its image folder")
    folder = os.path.join(root, config[split])
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{yaml_path}: {split} image folder {folder} not found")

    names = config["names"]
    data = DetectionData(tuple(names), [], [], [], [])
    for file_name in sorted(os.listdir(folder)):
        if not file_name.lower().endswith(IMAGE_SUFFIXES):
            continue
        image_path = os.path.join(folder, file_name)
        image = load_image(image_path)
        label_path = _label_path(image_path)
        if os.path.isfile(label_path):
            boxes, labels = parse_label_file(label_path, len(names), image.shape[1],
                                             image.shape[0])
        else:
            boxes, labels = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
        data.images.append(image)
        data.boxes.append(boxes)
        data.labels.append(labels)
        data.names.append(file_name)
    return data


def write_yolo_dataset(root, splits, class_names):
    """Write splits as a YOLO-format dataset folder with a ``data.yaml``.

    Parameters
    ----------
    root : str
    splits : dict of str to DetectionData
        E.g. {"train": ..., "val": ..., "test": ...}.
    class_names : sequence of str

    Returns
    -------
    str
        Path of the written YAML.
    """
    import yaml

    for split, data in splits.items():
        image_folder = os.path.join(root, "images", split)
        label_folder = os.path.join(root, "labels", split)
        os.makedirs(image_folder, exist_ok=True)
        os.makedirs(label_folder, exist_ok=True)
        for image, boxes, labels, name in zip(data.images, data.boxes, data.labels,
                                              data.names):
            stem = os.path.splitext(name)[0]
            save_image(os.path.join(image_folder, stem + ".png"), image)
            height, width = image.shape[:2]
            lines = []
            for (x1, y1, x2, y2), label in zip(boxes, labels):
                cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
                w, h = (x2 - x1) / width, (y2 - y1) / height
                lines.append(f"{int(label)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
            with open(os.path.join(label_folder, stem + ".txt"), "w",
                      encoding="utf-8") as stream:
                stream.writelines(lines)

    config = {"path": ".", "names": {i: n for i, n in enumerate(class_names)}}
    config.update({split: f"images/{split}" for split in splits})
    yaml_path = os.path.join(root, "data.yaml")
    with open(yaml_path, "w", encoding="utf-8") as stream:
        yaml.safe_dump(config, stream, sort_keys=False)
    return yaml_path
