"""``nnscratch style`` end to end on tiny images."""

import numpy as np
import pytest
from PIL import Image

from nnscratch.cli import main
from nnscratch.style.images import LABEL_HEIGHT, resize_longer_side, side_by_side


def write_image(path, height, width, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    Image.fromarray(pixels).save(path)
    return str(path)


def test_style_command_writes_image_and_figure(tmp_path, capsys):
    content = write_image(tmp_path / "content.png", 20, 30, 0)
    style = write_image(tmp_path / "style.png", 25, 25, 1)
    output, figure = tmp_path / "out.png", tmp_path / "figure.png"
    status = main(["style", content, style, "-o", str(output), "--figure", str(figure),
                   "--size", "24", "--steps", "3", "--save-every", "2"])
    assert status == 0
    assert Image.open(output).size == (24, 16)
    assert Image.open(figure).size[1] == 24 + LABEL_HEIGHT + 8
    assert (tmp_path / "out_step_0002.png").exists()
    assert "lower" in capsys.readouterr().out


def test_style_command_default_photographs(tmp_path):
    output = tmp_path / "out.png"
    status = main(["style", "-o", str(output), "--size", "16", "--steps", "2",
                   "--optimizer", "adam", "--init", "content"])
    assert status == 0
    assert Image.open(output).size == (16, 16)


@pytest.mark.parametrize("arguments, message", [
    (["one.png"], "or neither"),
    (["--beta", "-1"], "--beta"),
    (["--size", "12"], "makes astronaut 12x12 pixels, but the network's 4 pools need "
                       "at least 16 pixels a side"),
])
def test_style_command_rejects_bad_arguments(arguments, message, capsys):
    assert main(["style", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_style_command_reports_missing_vgg_weights(tmp_path, capsys):
    status = main(["style", "--vgg19", str(tmp_path / "vgg19.npz"), "--size", "16"])
    assert status == 2
    assert "convert" in capsys.readouterr().err


def test_resize_longer_side_keeps_aspect_and_range():
    image = np.random.default_rng(0).random((30, 60, 3)).astype(np.float32)
    resized = resize_longer_side(image, 20)
    assert resized.shape == (10, 20, 3)
    assert resized.min() >= 0
    assert resized.max() <= 1


def test_side_by_side_places_panels_in_order():
    red = np.zeros((4, 5, 3)); red[..., 0] = 1
    blue = np.zeros((6, 3, 3)); blue[..., 2] = 1
    figure = side_by_side([red, blue], ["a", "b"])
    assert figure.shape == (6 + LABEL_HEIGHT + 8, 5 + 3 + 12, 3)
    top = 4 + LABEL_HEIGHT
    assert tuple(figure[top, 4]) == (255, 0, 0)
    assert tuple(figure[top, 4 + 5 + 4]) == (0, 0, 255)
