"""YOLO-format and COCO readers and the YOLO writer."""

import json

import numpy as np
import pytest
from PIL import Image

from nnscratch.detector.coco_format import read_coco_dataset
from nnscratch.detector.dataset import embedded_split
from nnscratch.detector.yolo_format import (
    LabelError,
    parse_label_file,
    read_yaml,
    read_yolo_dataset,
    write_yolo_dataset,
)


def test_yolo_writer_reader_round_trip(tmp_path):
    data = embedded_split("val", size=4)
    write_yolo_dataset(tmp_path, {"val": data}, data.class_names)
    back = read_yolo_dataset(tmp_path, "val")

    assert back.class_names == data.class_names
    assert len(back) == len(data)
    for original, read in zip(data.boxes, back.boxes):
        # Labels store six decimals of a 128-pixel image: 1e-6 * 128 / 2.
        np.testing.assert_allclose(read, original, atol=1e-4)
    for original, read in zip(data.labels, back.labels):
        np.testing.assert_array_equal(read, original)
    for original, read in zip(data.images, back.images):
        # PNG stores 8 bits per channel.
        np.testing.assert_allclose(read, original, atol=1 / 255)


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2", "expected 5 columns"),
    ("0 0.5 0.5 0.2 0.2 7", "expected 5 columns"),
    ("4 0.5 0.5 0.2 0.2", "unknown class"),
    ("-1 0.5 0.5 0.2 0.2", "unknown class"),
    ("1.5 0.5 0.5 0.2 0.2", "unknown class"),
    ("0 1.5 0.5 0.2 0.2", "normalised"),
    ("0 0.5 0.5 0.0 0.2", "normalised"),
    ("0 0.5 0.5 0.2 1.2", "normalised"),
    ("0 x 0.5 0.2 0.2", "non-numeric"),
])
def test_bad_label_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text("0 0.5 0.5 0.1 0.1\n\n" + line + "\n")
    with pytest.raises(LabelError, match=message) as raised:
        parse_label_file(path, num_classes=4, width=100, height=100)
    assert f"{path}, line 3" in str(raised.value)


def test_label_values_become_pixel_boxes(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("2 0.5 0.25 0.2 0.1\n")
    boxes, labels = parse_label_file(path, num_classes=3, width=200, height=100)
    np.testing.assert_allclose(boxes, [[80, 20, 120, 30]])
    np.testing.assert_array_equal(labels, [2])


def test_yolo_dataset_without_yaml_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset YAML"):
        read_yolo_dataset(tmp_path, "train")


@pytest.mark.parametrize("content", [b"just some text\n", b"\x89PNG\r\n\x1a\n\xff\xfe",
                                     b"key: [unclosed\n"])
def test_non_yaml_dataset_file_named(tmp_path, content):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="notes.png is not a YOLO dataset YAML"):
        read_yaml(path)


def test_dataset_yaml_without_names(tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text("train: images/train\nval: images/val\n")
    with pytest.raises(ValueError, match="needs a 'names' entry"):
        read_yaml(path)


def test_coco_reader_maps_ids_and_skips_crowd(tmp_path):
    Image.new("RGB", (40, 30), (10, 20, 30)).save(tmp_path / "a.png")
    coco = {
        "images": [{"id": 7, "file_name": "a.png", "width": 40, "height": 30}],
        "categories": [{"id": 12, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 12, "bbox": [1, 2, 10, 5]},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [5, 5, 4, 4],
             "iscrowd": 1},
        ],
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(coco))
    data = read_coco_dataset(path)

    assert data.class_names == ("dog", "cat")
    np.testing.assert_allclose(data.boxes[0], [[1, 2, 11, 7]])
    np.testing.assert_array_equal(data.labels[0], [1])
    assert data.images[0].shape == (30, 40, 3)


def test_coco_reader_names_bad_annotation(tmp_path):
    coco = {"images": [], "categories": [{"id": 1, "name": "a"}],
            "annotations": [{"id": 5, "image_id": 99, "category_id": 1,
                             "bbox": [0, 0, 1, 1]}]}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=r"annotation 0 \(id 5\) names unknown image_id"):
        read_coco_dataset(path)
