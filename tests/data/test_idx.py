"""The IDX reader on files written here, byte by byte, as MNIST lays them out."""

import gzip
import struct

import numpy as np
import pytest

from nnscratch.data.idx import (
    IdxFormatError,
    load_idx,
    load_mnist_idx,
    parse_idx,
    write_idx,
)


def idx_bytes(array, type_code=0x08, big_endian_dtype=">u1"):
    """Encode ``array`` by hand, independently of ``write_idx``."""
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7).astype(np.uint8)
    return images, labels


def test_reads_mnist_images_and_labels(tmp_path, digits):
    images, labels = digits
    (tmp_path / "images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "labels-idx1-ubyte").write_bytes(idx_bytes(labels))

    loaded_images, loaded_labels = load_mnist_idx(tmp_path / "images-idx3-ubyte",
                                                  tmp_path / "labels-idx1-ubyte")
    np.testing.assert_array_equal(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    assert loaded_images.dtype == np.uint8
    assert loaded_labels.dtype == np.int64


def test_reads_gzipped_file_by_its_magic_bytes(tmp_path, digits):
    images, _ = digits
    # No .gz suffix: gzip is recognised from the content.
    (tmp_path / "images").write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(load_idx(tmp_path / "images"), images)


@pytest.mark.parametrize("type_code, dtype", [
    (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8"),
])
def test_reads_every_type_code_big_endian(tmp_path, type_code, dtype):
    values = np.array([[-3, 0, 7], [100, -100, 1]]).astype(dtype)
    (tmp_path / "v.idx").write_bytes(idx_bytes(values, type_code, dtype))
    loaded = load_idx(tmp_path / "v.idx")
    np.testing.assert_array_equal(loaded, values)
    assert loaded.dtype == np.dtype(dtype).newbyteorder("=")
    assert loaded.dtype.isnative


def test_write_idx_round_trips(tmp_path):
    values = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 12
    write_idx(tmp_path / "v.idx", values)
    write_idx(tmp_path / "v.idx.gz", values)
    assert (tmp_path / "v.idx").read_bytes() == idx_bytes(values, 0x0B, ">i2")
    np.testing.assert_array_equal(load_idx(tmp_path / "v.idx.gz"), values)


def test_bad_magic_is_rejected():
    data = bytearray(idx_bytes(np.zeros(3, np.uint8)))
    data[0] = 0x50
    with pytest.raises(IdxFormatError, match="not an IDX file"):
        parse_idx(bytes(data))


def test_unknown_type_code_is_rejected():
    data = bytearray(idx_bytes(np.zeros(3, np.uint8)))
    data[2] = 0x0A
    with pytest.raises(IdxFormatError, match="type code 0x0A"):
        parse_idx(bytes(data))


def test_zero_dimensions_are_rejected():
    with pytest.raises(IdxFormatError, match="0 dimensions"):
        parse_idx(struct.pack(">HBB", 0, 0x08, 0))


def test_header_cut_short_is_rejected():
    data = idx_bytes(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(IdxFormatError, match="ends inside the header"):
        parse_idx(data[:9])
    with pytest.raises(IdxFormatError, match="4-byte IDX header"):
        parse_idx(data[:3])


def test_truncated_data_names_the_sizes(tmp_path, digits):
    images, _ = digits
    data = idx_bytes(images)
    (tmp_path / "cut").write_bytes(data[:-5])
    with pytest.raises(IdxFormatError, match=r"truncated.*5488 data bytes.*5483"):
        load_idx(tmp_path / "cut")


def test_trailing_bytes_are_rejected():
    data = idx_bytes(np.zeros(4, np.uint8)) + b"\x00"
    with pytest.raises(IdxFormatError, match="longer than its header says"):
        parse_idx(data)


def test_corrupt_gzip_is_rejected(tmp_path, digits):
    images, _ = digits
    compressed = gzip.compress(idx_bytes(images))
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IdxFormatError, match="cannot be decompressed"):
        load_idx(tmp_path / "cut.gz")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        load_idx(tmp_path / "absent")


def test_swapped_files_are_named(tmp_path, digits):
    images, labels = digits
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    with pytest.raises(IdxFormatError, match="swap"):
        load_mnist_idx(tmp_path / "labels", tmp_path / "images")


def test_count_mismatch_is_rejected(tmp_path, digits):
    images, labels = digits
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels[:-1]))
    with pytest.raises(IdxFormatError, match="7 images .* 6 labels"):
        load_mnist_idx(tmp_path / "images", tmp_path / "labels")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="uint16"):
        write_idx(tmp_path / "v.idx", np.zeros(3, np.uint16))
