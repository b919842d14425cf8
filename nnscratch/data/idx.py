"""Read IDX files, the format MNIST and Fashion-MNIST are distributed in.

Layout of an IDX file (all integers big-endian)::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions D
    4 * D       size of each dimension, uint32
    rest        the values, row-major, big-endian

``train-images-idx3-ubyte`` contains uint8 images of shape (N, 28, 28) and
``train-labels-idx1-ubyte`` uint8 labels of shape (N,). Files may be gzipped
(``.gz``); gzip is recognised by its magic bytes, not by the suffix.

References
----------
LeCun, Cortes and Burges, "The MNIST database of handwritten digits", 1998,
which defines the format.
"""

import gzip
import os
import struct
import zlib

import numpy as np

_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """An IDX file is truncated, has an invalid header or unexpected contents."""


def _read_bytes(path):
    """Return the file's bytes, gunzipped if it starts with the gzip magic."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IdxFormatError(f"{path!r} is a folder, not an IDX file; give the "
                             "path of the images or labels file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path!r}")
    with open(path, "rb") as stream:
        data = stream.read()
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as error:
        raise IdxFormatError(
            f"{path!r} starts like a gzip file but cannot be decompressed "
            f"({error}); the download is probably incomplete"
        ) from None


def parse_idx(data, name="<bytes>"):
    """Decode the bytes of an (uncompressed) IDX file.

    Parameters
    ----------
    data : bytes
    name : str
        Names the source in error messages.

    Returns
    -------
    ndarray
        Of the shape and type the header states, in native byte order.

    Raises
    ------
    IdxFormatError
        If the header is invalid or the data length differs from the header's.
    """
    if len(data) < 4:
        raise IdxFormatError(
            f"{name} is {len(data)} bytes long, shorter than the 4-byte IDX header"
        )
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IdxFormatError(
            f"{name} is not an IDX file: its first two bytes are {data[:2].hex()}, "
            "expected 0000"
        )
    if type_code not in _DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _DTYPES)
        raise IdxFormatError(
            f"{name} has IDX type code 0x{type_code:02X}; known codes are {known}"
        )
    if ndim == 0:
        raise IdxFormatError(f"{name} declares 0 dimensions; IDX data needs at least 1")

    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IdxFormatError(
            f"{name} declares {ndim} dimensions but ends inside the header "
            f"({len(data)} bytes, the header alone needs {header_size})"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        state = "truncated" if actual < expected else "longer than its header says"
        raise IdxFormatError(
            f"{name} is {state}: shape {shape} of {dtype.name} needs {expected} "
            f"data bytes, the file has {actual}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def load_idx(path):
    """Read an IDX file, gzipped or not.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ndarray
        Shape and dtype from the file's header (uint8 for MNIST), native byte
        order, writable.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IdxFormatError
        If the file is not a valid IDX file.
    """
    return parse_idx(_read_bytes(path), name=repr(os.fspath(path)))


def load_mnist_idx(images_path, labels_path):
    """Read an MNIST-style pair of IDX files (MNIST, Fashion-MNIST, KMNIST).

    Parameters
    ----------
    images_path : str or os.PathLike
        An IDX file of uint8 images, shape (N, H, W).
    labels_path : str or os.PathLike
        An IDX file of uint8 labels, shape (N,).

    Returns
    -------
    images : ndarray of shape (N, H, W), uint8
    labels : ndarray of shape (N,), int64

    Raises
    ------
    IdxFormatError
        If either file is invalid, the images are not 3-D uint8, the labels are
        not 1-D integers, or the two counts differ.
    """
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(
            f"images file {os.fspath(images_path)!r} contains {images.dtype} data "
            f"of shape {images.shape}; expected uint8 images of shape (N, H, W). "
            "Did you swap the images and labels files?"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise IdxFormatError(
            f"labels file {os.fspath(labels_path)!r} contains {labels.dtype} data "
            f"of shape {labels.shape}; expected integer labels of shape (N,)"
        )
    if len(images) != len(labels):
        raise IdxFormatError(
            f"{len(images)} images in {os.fspath(images_path)!r} but "
            f"{len(labels)} labels in {os.fspath(labels_path)!r}; the files "
            "must come from the same set"
        )
    if labels.size and labels.min() < 0:
        raise IdxFormatError(
            f"labels file {os.fspath(labels_path)!r} has a negative label "
            f"{labels.min()}; class labels start at 0"
        )
    return images, labels.astype(np.int64)


def write_idx(path, array):
    """Write ``array`` as an uncompressed IDX file (or gzipped if ``path`` ends
    in ``.gz``).

    Parameters
    ----------
    path : str or os.PathLike
    array : ndarray of at least 1 dimension
        dtype uint8, int8, int16, int32, float32 or float64.
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise TypeError(
            f"write_idx: dtype {array.dtype} has no IDX type code; use uint8, int8, "
            "int16, int32, float32 or float64"
        )
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(
            f"write_idx: array needs 1 to 255 dimensions, got {array.ndim}"
        )
    code = codes[dtype]
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    data = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    if os.fspath(path).endswith(".gz"):
        data = gzip.compress(data)
    with open(path, "wb") as stream:
        stream.write(data)
