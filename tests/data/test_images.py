"""load_image on the kinds of files real folders contain, built here with Pillow."""

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from nnscratch.data.images import (
    ImageReadError,
    ImageTooLargeError,
    load_image,
    save_image,
    to_uint8,
)


def gradient_rgb(height=24, width=32):
    """An RGB image whose pixels differ along both axes and between channels."""
    rows = np.linspace(0, 255, height)[:, None]
    cols = np.linspace(0, 255, width)[None, :]
    image = np.stack([rows + 0 * cols, 0 * rows + cols, 255 - (rows + cols) / 2], -1)
    return image.round().astype(np.uint8)  # (H, W, 3)


def test_png_round_trip_is_exact(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.dtype == np.float32
    assert loaded.shape == pixels.shape
    np.testing.assert_array_equal(to_uint8(loaded), pixels)


def test_exif_orientation_is_applied(tmp_path):
    # Orientation 6 means "rotate 90 degrees clockwise to display": the file
    # stores a landscape array, the viewer shows a portrait one.
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255  # a white band on the left of the stored array
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif, quality=95)

    upright = load_image(tmp_path / "rotated.jpg")
    assert upright.shape == (40, 20, 3)
    # Clockwise rotation sends the left band to the top.
    assert upright[:8].mean() > 0.9
    assert upright[12:].mean() < 0.1


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")

    grey = load_image(tmp_path / "deep.png", mode="L")
    np.testing.assert_allclose(grey[0], values[0] / 65535, rtol=1e-6)
    colour = load_image(tmp_path / "deep.png")
    assert colour.shape == (1, 4, 3)
    np.testing.assert_allclose(colour[0, :, 1], values[0] / 65535, rtol=1e-6)


def test_sixteen_bit_values_keep_their_order(tmp_path):
    # Clipping to 8 bits would map every value above 255 to 1.0.
    values = np.array([[300, 20000, 40000, 60000]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    grey = load_image(tmp_path / "deep.png", mode="L")[0]
    assert np.all(np.diff(grey) > 0)
    assert grey.max() < 1.0


def write_png_rgb16(path, pixels):
    """Write a 16-bit-per-channel RGB PNG by hand, which Pillow cannot save."""
    height, width, _ = pixels.shape

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + pixels[row].astype(">u2").tobytes()
                    for row in range(height))  # filter type 0 per row
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_sixteen_bit_rgb_png_is_scaled(tmp_path):
    pixels = np.array([[[0, 4660, 65535], [65535, 32768, 257]]], dtype=np.uint16)
    write_png_rgb16(tmp_path / "deep-rgb.png", pixels)
    loaded = load_image(tmp_path / "deep-rgb.png")
    # Pillow keeps the high byte of each 16-bit value, an error below 1/255.
    np.testing.assert_allclose(loaded, pixels / 65535, atol=1 / 255)


def test_cmyk_jpeg_gives_the_original_colours(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    with Image.open(tmp_path / "print.jpg") as check:
        assert check.mode == "CMYK"

    loaded = load_image(tmp_path / "print.jpg")
    assert loaded.shape == pixels.shape
    # JPEG is lossy; 0.06 is a few grey levels of compression error, while an
    # inverted or channel-swapped CMYK conversion is off by far more.
    assert np.abs(loaded - pixels / 255).mean() < 0.06


def test_palette_with_transparency_composites_on_white(tmp_path):
    image = Image.new("P", (4, 2))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 red, 1 blue
    image.putdata([0, 0, 1, 1, 0, 0, 1, 1])
    image.info["transparency"] = 1  # blue pixels are fully transparent
    image.save(tmp_path / "palette.png", transparency=1)

    loaded = load_image(tmp_path / "palette.png")
    np.testing.assert_allclose(loaded[0, 0], [1, 0, 0])
    np.testing.assert_allclose(loaded[0, 2], [1, 1, 1])


def test_rgba_half_transparent_blends_with_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 2] = 255  # blue
    rgba[..., 3] = 128  # about half opaque
    Image.fromarray(rgba).save(tmp_path / "rgba.png")

    loaded = load_image(tmp_path / "rgba.png")
    alpha = 128 / 255
    np.testing.assert_allclose(loaded[0, 0], [1 - alpha, 1 - alpha, 1], atol=2 / 255)


def test_grey_request_of_colour_uses_luma(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    grey = load_image(tmp_path / "a.png", mode="L")
    luma = pixels @ np.array([0.299, 0.587, 0.114]) / 255
    assert grey.shape == pixels.shape[:2]
    np.testing.assert_allclose(grey, luma, atol=1 / 255)


def test_embedded_srgb_profile_keeps_colours(tmp_path):
    pixels = gradient_rgb()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(tmp_path / "icc.png", icc_profile=profile)
    loaded = load_image(tmp_path / "icc.png")
    # sRGB to sRGB through littleCMS is the identity up to one grey level.
    np.testing.assert_allclose(loaded, pixels / 255, atol=1.5 / 255)


def test_truncated_file_raises_read_error(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(64, 64)).save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        load_image(tmp_path / "cut.png")


def test_truncated_jpeg_raises_read_error(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(64, 64)).save(buffer, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:400])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")


def test_non_image_raises_read_error(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageReadError, match="not an image format"):
        load_image(tmp_path / "notes.png")


def test_missing_file_raises_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "absent.png")


def test_directory_raises_read_error(tmp_path):
    with pytest.raises(ImageReadError, match="directory"):
        load_image(tmp_path)


def test_oversized_image_raises_too_large(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1,600 > 2 * 500
    with pytest.raises(ImageTooLargeError, match="MAX_IMAGE_PIXELS"):
        load_image(tmp_path / "big.png")
    with pytest.raises(Image.DecompressionBombError):
        load_image(tmp_path / "big.png")


def test_image_above_limit_warns_like_pillow(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(tmp_path / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600)  # 600 < 900 <= 1,200
    with pytest.warns(Image.DecompressionBombWarning):
        loaded = load_image(tmp_path / "large.png")
    assert loaded.shape == (30, 30, 3)


def test_image_below_limit_loads_silently(tmp_path):
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(tmp_path / "small.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(tmp_path / "small.png").shape == (30, 30, 3)


def test_bad_mode_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'RGB' or 'L'"):
        load_image(tmp_path / "a.png", mode="RGBA")


def test_save_image_writes_grey_and_colour(tmp_path):
    colour = gradient_rgb() / 255
    save_image(tmp_path / "sub" / "c.png", colour)
    np.testing.assert_allclose(load_image(tmp_path / "sub" / "c.png"), colour,
                               atol=0.5 / 255 + 1e-6)
    grey = colour[..., 0]
    save_image(tmp_path / "g.png", grey[..., None])
    np.testing.assert_allclose(load_image(tmp_path / "g.png", mode="L"), grey,
                               atol=0.5 / 255 + 1e-6)


def test_save_image_rejects_four_channels(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 4)))


def test_to_uint8_clips_and_rounds():
    values = np.array([-0.5, 0.0, 0.5 / 255, 0.5, 1.0, 2.0, np.nan])
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 1, 128, 255, 255, 0])
