"""``nnscratch visualize`` end to end on tiny checkpoints made here."""

import json

import numpy as np
import pytest
from PIL import Image

from nnscratch import init
from nnscratch.checkpoint import save_checkpoint
from nnscratch.classifier import build_classifier
from nnscratch.cli import main
from nnscratch.detector.model import build_detector
from nnscratch.zoo import model_spec


@pytest.fixture
def classifier_checkpoint(tmp_path):
    init.manual_seed(0)
    config = {"channels": [3, 4], "hidden": 8, "batch_norm": True}
    model = build_classifier(**config)
    path = tmp_path / "classifier.npz"
    save_checkpoint(path, model, model=model_spec("classifier", **config))
    return path


@pytest.fixture
def detector_checkpoint(tmp_path):
    init.manual_seed(0)
    config = {"num_classes": 2, "num_anchors": 1, "width": 2}
    path = tmp_path / "detector.npz"
    save_checkpoint(path, build_detector(**config), model=model_spec("detector", **config))
    return path


def write_images(folder, count, size, mode):
    folder.mkdir()
    rng = np.random.default_rng(0)
    channels = 3 if mode == "RGB" else 1
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
        Image.fromarray(pixels.squeeze()).save(folder / f"image_{index:02d}.png")
    return folder


def test_classifier_on_its_digits(classifier_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["visualize", str(classifier_checkpoint), "-o", str(out),
                   "--max-images", "30", "--units", "2"])
    assert status == 0
    assert "searched 30 images" in capsys.readouterr().out
    summary = json.loads((out / "top9.json").read_text())
    # Two convolutions, each with its BatchNorm and ReLU, then max pools.
    assert [layer["layer"] for layer in summary["layers"]] == ["2", "6"]
    assert [layer["receptive_field"] for layer in summary["layers"]] == [[5, 5], [14, 14]]
    assert len(summary["layers"][0]["units"]) == 2
    assert len(summary["layers"][0]["units"][0]["patches"]) == 9
    for name in ("filters.png", "top9_conv1.png", "top9_conv2.png"):
        assert Image.open(out / name).size[0] > 0
    assert not (out / "top9_conv3.png").exists()


def test_detector_on_a_folder(detector_checkpoint, tmp_path):
    data = write_images(tmp_path / "photos", 5, 32, "RGB")
    out = tmp_path / "out"
    status = main(["visualize", str(detector_checkpoint), "--data", str(data),
                   "-o", str(out), "--units", "3"])
    assert status == 0
    summary = json.loads((out / "top9.json").read_text())
    assert summary["images"] == 5
    assert [layer["receptive_field"] for layer in summary["layers"]] == [
        [3, 3], [8, 8], [18, 18]]
    patches = summary["layers"][2]["units"][0]["patches"]
    assert len(patches) == 5  # fewer images than nine
    activations = [patch["activation"] for patch in patches]
    assert activations == sorted(activations, reverse=True)
    assert Image.open(out / "filters.png").mode == "RGB"


def test_detector_on_its_embedded_images(detector_checkpoint, tmp_path):
    out = tmp_path / "out"
    status = main(["visualize", str(detector_checkpoint), "-o", str(out),
                   "--max-images", "10", "--units", "1"])
    assert status == 0
    summary = json.loads((out / "top9.json").read_text())
    assert summary["images"] == 10
    assert len(summary["layers"]) == 3


def test_missing_checkpoint_fails_with_message(tmp_path, capsys):
    status = main(["visualize", str(tmp_path / "absent.npz"), "-o", str(tmp_path)])
    assert status == 2
    assert "not found" in capsys.readouterr().err


def test_empty_data_folder_fails_with_message(classifier_checkpoint, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status = main(["visualize", str(classifier_checkpoint), "--data",
                   str(tmp_path / "empty"), "-o", str(tmp_path / "out")])
    assert status == 2
    assert "no image files" in capsys.readouterr().err


def test_too_small_image_named(classifier_checkpoint, tmp_path, capsys):
    from nnscratch.visualize.report import smallest_input_side
    from nnscratch.zoo import load_model

    model, _ = load_model(classifier_checkpoint)
    side = smallest_input_side(model, 1)
    folder = tmp_path / "small"
    folder.mkdir()
    Image.fromarray(np.zeros((side - 1, side - 1), np.uint8)).save(folder / "tiny.png")
    Image.fromarray(np.zeros((side, side), np.uint8)).save(folder / "ok.png")
    status = main(["visualize", str(classifier_checkpoint), "--data", str(folder),
                   "-o", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert f"tiny.png' is {side - 1}x{side - 1} pixels" in err
    assert f"need at least {side} a side" in err


def test_smallest_side_runs_first(classifier_checkpoint):
    from nnscratch.visualize.report import smallest_input_side
    from nnscratch.visualize.top_patches import unit_layers
    from nnscratch.zoo import load_model

    model, _ = load_model(classifier_checkpoint)
    side = smallest_input_side(model, 1)
    shown_layers = [layer for _, layer in model.named_layers()][
        : unit_layers(model)[-1] + 1]

    def run(size):
        x = np.zeros((1, 1, size, size), np.float32)
        for layer in shown_layers:
            x = layer.forward(x)

    run(side)
    if side > 1:
        with pytest.raises(ValueError):
            run(side - 1)
