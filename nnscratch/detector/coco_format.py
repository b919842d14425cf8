"""Read detection annotations in the COCO JSON format.

A COCO file lists ``images`` (id, file_name, width, height), ``annotations``
(image_id, category_id, bbox = [x, y, w, h] in pixels from the top-left
corner) and ``categories`` (id, name). Category ids need not be contiguous:
they are mapped to indices 0..K-1 in the order of increasing id.
Annotations with ``iscrowd`` set are skipped, as COCO's detection metric
ignores them.
"""

import json
import os

import numpy as np

from nnscratch.data.images import load_image
from nnscratch.detector.data import DetectionData


def read_coco_dataset(json_path, image_folder=None):
    """Read a COCO JSON file and its images.

    Parameters
    ----------
    json_path : str
    image_folder : str, optional
        Where ``file_name`` paths start; the JSON file's folder by default.

    Returns
    -------
    DetectionData
    """
    with open(json_path, encoding="utf-8") as stream:
        try:
            coco = json.load(stream)
        except json.JSONDecodeError as error:
            raise ValueError(f"{json_path}: not valid JSON ({error})") from None
    for key in ("images", "annotations", "categories"):
        if key not in coco:
            raise ValueError(f"{json_path}: not a COCO detection file, no {key!r} list")
    image_folder = image_folder or os.path.dirname(os.path.abspath(json_path))

    category_ids = sorted(c["id"] for c in coco["categories"])
    index_of = {cid: i for i, cid in enumerate(category_ids)}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    per_image = {image["id"]: [] for image in coco["images"]}
    for number, annotation in enumerate(coco["annotations"]):
        where = f"{json_path}: annotation {number} (id {annotation.get('id')})"
        if annotation.get("image_id") not in per_image:
            raise ValueError(f"{where} names unknown image_id {annotation.get('image_id')!r}")
        if annotation.get("category_id") not in index_of:
            raise ValueError(
                f"{where} names unknown category_id {annotation.get('category_id')!r}"
            )
        bbox = annotation.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and bbox[2] > 0 and bbox[3] > 0):
            raise ValueError(f"{where}: bbox must be [x, y, w, h] with w, h > 0, got {bbox!r}")
        if annotation.get("iscrowd", 0):
            continue
        per_image[annotation["image_id"]].append(annotation)

    data = DetectionData(tuple(names[cid] for cid in category_ids), [], [], [], [])
    for image_info in coco["images"]:
        image = load_image(os.path.join(image_folder, image_info["file_name"]))
        boxes, labels = [], []
        for annotation in per_image[image_info["id"]]:
            x, y, w, h = annotation["bbox"]
            boxes.append((x, y, x + w, y + h))
            labels.append(index_of[annotation["category_id"]])
        data.images.append(image)
        data.boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        data.labels.append(np.asarray(labels, np.int64))
        data.names.append(os.path.basename(image_info["file_name"]))
    return data
