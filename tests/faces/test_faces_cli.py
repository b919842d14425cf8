"""``nnscratch faces``: the PNG and the JSON it writes agree with the detector."""

import json

import numpy as np
import pytest
import skimage.data
from PIL import Image

from nnscratch.cli import main
from nnscratch.faces.detect import DEFAULT_THRESHOLD, load_face_detector
from nnscratch.faces.draw import BOX_COLOR, box_pixels_xyxy


def test_faces_command_writes_matching_png_and_json(tmp_path, capsys):
    out_png, out_json = tmp_path / "faces.png", tmp_path / "faces.json"

    status = main(["faces", "-o", str(out_png), "--json", str(out_json)])
    report = json.loads(out_json.read_text())
    drawn = np.asarray(Image.open(out_png).convert("RGB"))
    boxes, scores = load_face_detector().detect(skimage.data.astronaut())

    assert status == 0
    assert drawn.shape == (512, 512, 3)
    assert report["width"] == 512
    assert report["height"] == 512
    assert report["settings"]["threshold"] == DEFAULT_THRESHOLD
    assert len(report["faces"]) == len(boxes) >= 1
    np.testing.assert_allclose([face["box"] for face in report["faces"]], boxes)
    np.testing.assert_allclose([face["score"] for face in report["faces"]], scores)
    for face in report["faces"]:
        left, top, right, bottom = box_pixels_xyxy(face["box"])
        # The box outline runs along the box's left and right edges.
        assert np.all(drawn[top:bottom + 1, left] == BOX_COLOR)
        assert np.all(drawn[top:bottom + 1, right] == BOX_COLOR)
    assert "face(s)" in capsys.readouterr().out


def test_faces_command_reads_image_file(tmp_path):
    image_path = tmp_path / "coins.png"
    Image.fromarray(skimage.data.coins()).save(image_path)
    out_json = tmp_path / "coins.json"

    status = main(["faces", str(image_path), "-o", str(tmp_path / "out.png"),
                   "--json", str(out_json), "--threshold", "0.999"])
    report = json.loads(out_json.read_text())

    assert status == 0
    assert report["image"] == str(image_path)
    assert report["settings"]["threshold"] == 0.999
    assert (report["height"], report["width"]) == skimage.data.coins().shape


def test_faces_command_reports_missing_weights(tmp_path, capsys):
    status = main(["faces", "-o", str(tmp_path / "out.png"), "--weights",
                   str(tmp_path / "missing.npz")])

    assert status == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_faces_command_reports_unreadable_image(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")

    status = main(["faces", str(broken), "-o", str(tmp_path / "out.png")])

    assert status == 2
    assert "cannot read" in capsys.readouterr().err


def test_train_faces_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "faces", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # A default of 0 counts as a default, though 0 == False in Python.
    assert "random seed (default: 0)" in text
    assert "(default: runs/faces.npz)" in text
    assert "(default: 5)" in text
