"""Edge kernels through Conv2d: the course's worked example and the command."""


import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from nnscratch.edges import (
    GAP,
    GRID_COLUMNS,
    LABEL_HEIGHT,
    PANEL_ORDER,
    edge_figure,
    edge_layer,
    edge_responses,
)


def half_bright(dtype=np.float32):
    """The course's 6x6 image: 10 on the left half, 0 on the right."""
    return np.array([[10, 10, 10, 0, 0, 0]] * 6, dtype=dtype)


def test_half_bright_image_gives_30_in_middle_columns():
    vertical = edge_responses(half_bright())["vertical"]
    expected = np.array([[0, 30, 30, 0]] * 4)
    assert vertical.shape == (4, 4)
    np.testing.assert_array_equal(vertical, expected)


def test_half_bright_image_has_no_horizontal_edge():
    responses = edge_responses(half_bright())
    np.testing.assert_array_equal(responses["horizontal"], np.zeros((4, 4)))
    np.testing.assert_array_equal(responses["sobel_y"], np.zeros((4, 4)))
    # Sobel weighs the middle row twice: 10 * (1 + 2 + 1) = 40.
    np.testing.assert_array_equal(responses["sobel_x"], [[0, 40, 40, 0]] * 4)
    np.testing.assert_array_equal(responses["sobel_magnitude"], [[0, 40, 40, 0]] * 4)


def test_transposed_image_swaps_the_directions():
    image = np.random.default_rng(0).random((9, 11))
    responses = edge_responses(image)
    transposed = edge_responses(image.T.copy())
    np.testing.assert_allclose(transposed["horizontal"], responses["vertical"].T)
    np.testing.assert_allclose(transposed["sobel_y"], responses["sobel_x"].T)


def test_responses_match_scipy_correlate():
    image = np.random.default_rng(1).random((12, 10))
    responses = edge_responses(image)
    layer = edge_layer(dtype=np.float64)
    for index, name in enumerate(("vertical", "horizontal", "sobel_x", "sobel_y")):
        kernel = layer.params["weight"][index, 0]
        # scipy's correlate centres the kernel, so its valid part is [1:-1, 1:-1].
        expected = ndimage.correlate(image, kernel, mode="constant")[1:-1, 1:-1]
        np.testing.assert_allclose(responses[name], expected, atol=1e-12, err_msg=name)


def test_same_padding_keeps_the_size():
    responses = edge_responses(np.ones((7, 5)), padding="same")
    assert responses["vertical"].shape == (7, 5)
    # Zero padding makes the border of a flat image an edge: at column 0 the
    # +1 column of the kernel covers padding and the -1 column covers ones.
    assert responses["vertical"][3, 0] == -3
    assert responses["vertical"][3, 2] == 0


def test_colour_input_is_rejected():
    with pytest.raises(ValueError, match="grey"):
        edge_responses(np.zeros((6, 6, 3)))


def test_figure_lays_out_six_labelled_panels():
    image = np.random.default_rng(2).random((20, 30))
    figure = edge_figure(image, edge_responses(image))
    rows = len(PANEL_ORDER) // GRID_COLUMNS
    assert figure.shape == (rows * (18 + LABEL_HEIGHT) + (rows + 1) * GAP,
                            GRID_COLUMNS * 28 + (GRID_COLUMNS + 1) * GAP, 3)
    assert figure.dtype == np.uint8
    # The first panel is the input, centre-cropped to the response size.
    top, left = GAP + LABEL_HEIGHT, GAP
    panel = figure[top:top + 18, left:left + 28, 0]
    expected = (image[1:-1, 1:-1] * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(panel, expected)


def run_command(argv):
    from nnscratch.cli import main

    return main(["edges", *argv])


def test_command_writes_png_of_expected_size(tmp_path, capsys):
    photo = np.random.default_rng(3).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.jpg")
    status = run_command([str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "e.png")])
    assert status == 0
    with Image.open(tmp_path / "e.png") as written:
        # Responses are 38x48; two rows of three panels under their labels.
        assert written.size == (3 * 48 + 4 * GAP, 2 * (38 + LABEL_HEIGHT) + 3 * GAP)
        assert written.mode == "RGB"
    assert "38x48" in capsys.readouterr().out


def test_command_defaults_to_the_camera_photograph(tmp_path):
    pytest.importorskip("skimage", reason="the default photograph ships in skimage")
    status = run_command(["-o", str(tmp_path / "camera.png"), "--max-side", "128"])
    assert status == 0
    with Image.open(tmp_path / "camera.png") as written:
        # camera is 512x512, shrunk to 128x128, responses 126x126.
        assert written.size == (3 * 126 + 4 * GAP, 2 * (126 + LABEL_HEIGHT) + 3 * GAP)


def test_command_reports_unreadable_image(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not an image")
    status = run_command([str(tmp_path / "bad.png"), "-o", str(tmp_path / "e.png")])
    assert status == 2
    assert "not an image format" in capsys.readouterr().err
    assert not (tmp_path / "e.png").exists()
