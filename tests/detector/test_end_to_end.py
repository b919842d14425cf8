"""The detector trains, finds an easy object, and its commands agree with it."""

import json

import numpy as np
import pytest
from PIL import Image

from nnscratch import init, optim
from nnscratch.cli import main
from nnscratch.detection.yolo_loss import yolo_loss
from nnscratch.detector.data import DetectionData
from nnscratch.detector.draw import PALETTE, pixel_rectangle
from nnscratch.detector.model import build_detector
from nnscratch.detector.pipeline import DetectionBatches, choose_anchors
from nnscratch.detector.predict import Detector
from nnscratch.detector.train import check_resume_matches
from nnscratch.trainer import Trainer
from nnscratch.zoo import model_spec

SIZE = 64
STRIDE = 8  # the shipped detector's grid stride


def square_data(count, seed):
    """Images of one bright square (class 0) or disc (class 1) on dark noise."""
    rng = np.random.default_rng(seed)
    data = DetectionData(("square", "disc"), [], [], [], [])
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for index in range(count):
        image = rng.uniform(0, 0.2, (SIZE, SIZE, 3)).astype(np.float32)
        side = int(rng.integers(14, 26))
        x1, y1 = (int(v) for v in rng.integers(0, SIZE - side, 2))
        label = index % 2
        if label == 0:
            image[y1:y1 + side, x1:x1 + side] = 0.9
        else:
            centre = (x1 + side / 2, y1 + side / 2)
            inside = (xx + 0.5 - centre[0]) ** 2 + (yy + 0.5 - centre[1]) ** 2
            image[inside <= (side / 2) ** 2] = 0.9
        data.images.append(image)
        data.boxes.append(np.array([[x1, y1, x1 + side, y1 + side]], np.float32))
        data.labels.append(np.array([label]))
        data.names.append(f"shape_{index}")
    return data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("detector")
    data = square_data(48, seed=0)
    batches = DetectionBatches(data, SIZE, np.ones((1, 2)), augment=False,
                               grid_stride=STRIDE)
    anchors, _ = choose_anchors(batches.boxes, 1, grid_stride=STRIDE)
    batches.anchors = anchors
    init.manual_seed(0)
    model = build_detector(num_classes=2, num_anchors=1, width=8, grid_stride=STRIDE)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    trainer = Trainer(
        model, lambda o, t: yolo_loss(o, t, anchors, ignore_iou=0.6), optimizer, batches,
        epochs=24, batch_size=8, seed=0, out_dir=out, progress=False, plot=False,
        model_spec=model_spec("detector", num_classes=2, num_anchors=1, width=8,
                              grid_stride=STRIDE),
        metadata={"detector": {"anchors": anchors.tolist(),
                               "class_names": list(data.class_names),
                               "image_size": SIZE, "grid_stride": STRIDE}},
    )
    history = trainer.fit()
    return out, history


def test_training_drives_the_loss_down(trained):
    _, history = trained
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]


def test_detector_finds_an_easy_object(trained):
    out, _ = trained
    detector = Detector.from_checkpoint(out / "last.npz")
    data = square_data(6, seed=1)
    hits = 0
    for image, boxes, labels in zip(data.images, data.boxes, data.labels):
        found = detector.detect(image, score_threshold=0.3)
        if not found:
            continue
        best = found[0]
        x1, y1, x2, y2 = best["box"]
        tx1, ty1, tx2, ty2 = boxes[0]
        inter = max(0, min(x2, tx2) - max(x1, tx1)) * max(0, min(y2, ty2) - max(y1, ty1))
        union = (x2 - x1) * (y2 - y1) + (tx2 - tx1) * (ty2 - ty1) - inter
        hits += inter / union >= 0.5 and best["label"] == labels[0]
    assert hits >= 5


def test_detect_json_matches_drawn_boxes(trained, tmp_path):
    out, _ = trained
    data = square_data(2, seed=2)
    paths = []
    for index, image in enumerate(data.images):
        path = tmp_path / f"in_{index}.png"
        Image.fromarray((image * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    result_dir = tmp_path / "result"
    status = main(["detect", *paths, "--weights", str(out / "last.npz"),
                   "--out", str(result_dir), "--score-threshold", "0.3"])
    assert status == 0

    report = json.loads((result_dir / "detections.json").read_text())
    assert [entry["image"] for entry in report["images"]] == ["in_0.png", "in_1.png"]
    assert sum(len(entry["detections"]) for entry in report["images"]) >= 1
    for entry in report["images"]:
        drawn = np.asarray(Image.open(entry["output"]).convert("RGB"))
        for detection in entry["detections"]:
            colour = PALETTE[detection["label"] % len(PALETTE)]
            x1, y1, x2, y2 = pixel_rectangle(detection["box"], SIZE, SIZE)
            # The bottom edge of each box is drawn in its class colour.
            edge = drawn[y2, x1:x2 + 1]
            assert (edge == colour).all(axis=1).mean() > 0.9


def test_evaluate_command_writes_map_json(trained, tmp_path, monkeypatch):
    from nnscratch.detector import train as detector_train

    out, _ = trained
    monkeypatch.setattr(detector_train, "read_split",
                        lambda path, split: square_data(8, seed=3))
    json_path = tmp_path / "map.json"
    status = main(["evaluate", "--data", "unused", "--weights", str(out / "last.npz"),
                   "--json", str(json_path)])
    assert status == 0
    result = json.loads(json_path.read_text())
    assert 0.5 < result["map50"] <= 1
    assert 0 <= result["map50_95"] <= result["map50"]


@pytest.mark.parametrize("stride, pools", [(16, 4), (8, 3)])
def test_grid_stride_sets_pools_and_grid(stride, pools):
    model = build_detector(num_classes=2, num_anchors=3, width=4, grid_stride=stride)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("MaxPool2d") == pools
    out = model.forward(np.zeros((1, 3, 64, 96), np.float32))
    assert out.shape == (1, 3 * 7, 64 // stride, 96 // stride)


def test_unknown_grid_stride_is_rejected():
    with pytest.raises(ValueError, match="grid_stride"):
        build_detector(num_classes=2, num_anchors=3, grid_stride=4)


def detector_metadata(checkpoint):
    """Return the ``detector`` section of a checkpoint's metadata."""
    from nnscratch.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint)[1]["detector"]


def test_resume_check_accepts_same_settings(trained):
    out, _ = trained
    check_resume_matches(out / "last.npz", detector_metadata(out / "last.npz"))


@pytest.mark.parametrize("key, value, option", [
    ("image_size", 2 * SIZE, "--image-size"),
    ("grid_stride", 16, "--grid-stride"),
    ("class_names", ["square", "circle"], "--data"),
])
def test_resume_check_names_setting(trained, key, value, option):
    out, _ = trained
    metadata = {**detector_metadata(out / "last.npz"), key: value}
    with pytest.raises(ValueError, match=f"trained with {key} .*same {option}"):
        check_resume_matches(out / "last.npz", metadata)


@pytest.mark.parametrize("anchors", [[[1.0, 1.0]], [[2.0, 3.0], [1.0, 1.0]]])
def test_resume_check_rejects_other_anchors(trained, anchors):
    out, _ = trained
    metadata = {**detector_metadata(out / "last.npz"), "anchors": anchors}
    with pytest.raises(ValueError, match="other anchors"):
        check_resume_matches(out / "last.npz", metadata)


def test_resume_other_image_size_rejected(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train", "detector", "--train-size", "16", "--out", str(out)]
    assert main([*common, "--epochs", "1", "--image-size", "64"]) == 0
    capsys.readouterr()
    assert main([*common, "--epochs", "2", "--image-size", "96", "--resume"]) == 2
    error = capsys.readouterr().err
    assert "image_size 64, but this run has 96" in error
    assert "--image-size" in error
