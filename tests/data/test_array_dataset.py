"""ArrayDataset batches and the stratified split."""

import numpy as np
import pytest

from nnscratch.data.dataset import ArrayDataset, stratified_split


def test_split_covers_every_index_once():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    parts = stratified_split(labels, (0.7, 0.1, 0.2), seed=0)
    joined = np.concatenate(parts)
    assert len(joined) == len(labels)
    np.testing.assert_array_equal(np.sort(joined), np.arange(len(labels)))


def test_split_keeps_class_proportions():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, val, test = stratified_split(labels, (0.7, 0.1, 0.2), seed=0)
    for part, fraction in ((train, 0.7), (val, 0.1), (test, 0.2)):
        counts = np.bincount(labels[part], minlength=4)
        np.testing.assert_allclose(counts, fraction * np.array([10, 20, 30, 40]),
                                   atol=1)


def test_split_depends_only_on_the_seed():
    labels = np.random.default_rng(0).integers(0, 5, 200)
    first = stratified_split(labels, (0.5, 0.5), seed=3)
    second = stratified_split(labels, (0.5, 0.5), seed=3)
    other = stratified_split(labels, (0.5, 0.5), seed=4)
    np.testing.assert_array_equal(first[0], second[0])
    assert not np.array_equal(first[0], other[0])


def test_split_rejects_fractions_not_summing_to_one():
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(np.zeros(10, int), (0.5, 0.4))


def test_array_dataset_augments_only_training_batches():
    x = np.arange(5 * 4, dtype=np.float32).reshape(5, 1, 2, 2)
    y = np.arange(5)
    dataset = ArrayDataset(x, y, augment=lambda batch, rng: batch + 100)
    indices = np.array([3, 1])
    train_x, train_y = dataset.batch(indices, np.random.default_rng(0), train=True)
    eval_x, eval_y = dataset.batch(indices, np.random.default_rng(0), train=False)
    np.testing.assert_array_equal(train_x, x[indices] + 100)
    np.testing.assert_array_equal(eval_x, x[indices])
    np.testing.assert_array_equal(train_y, [3, 1])
    np.testing.assert_array_equal(eval_y, [3, 1])
    assert len(dataset) == 5


def test_array_dataset_drops_augmentation_params():
    x = np.zeros((4, 1, 2, 2), np.float32)
    dataset = ArrayDataset(x, np.arange(4), augment=lambda b, rng: (b + 1, "params"))
    out, _ = dataset.batch(np.arange(4), np.random.default_rng(0), train=True)
    np.testing.assert_array_equal(out, x + 1)


def test_array_dataset_rejects_length_mismatch():
    with pytest.raises(ValueError, match="5 samples but target has 4"):
        ArrayDataset(np.zeros((5, 1, 2, 2), np.float32), np.zeros(4))
