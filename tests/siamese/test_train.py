"""The training loop: PK batches, augmentation and one shared-weight step."""

import numpy as np
import pytest

from nnscratch.optim import Adam
from nnscratch.siamese.losses import triplet_loss
from nnscratch.siamese.mining import UNKNOWN_LABEL, mine_triplets
from nnscratch.siamese.model import build_siamese_network
from nnscratch.siamese.train import (
    TrainConfig,
    fit,
    pk_batches,
    random_shift,
    train_step,
)


def test_pk_batches_hold_p_identities_of_k_images():
    labels = np.repeat(np.arange(6), 10)
    batches = pk_batches(labels, 3, 4, np.random.default_rng(0))
    assert len(batches) == 5  # ceil(60 / 12)
    for batch in batches:
        counts = np.bincount(labels[batch], minlength=6)
        assert sorted(counts[counts > 0]) == [4, 4, 4]
        assert len(np.unique(batch)) == 12  # enough images: no repeats


def test_pk_batches_add_unknown_negatives():
    labels = np.array([0, 0, 0, 1, 1, 1, UNKNOWN_LABEL, UNKNOWN_LABEL])
    batches = pk_batches(labels, 2, 2, np.random.default_rng(1))
    for batch in batches:
        assert (labels[batch] == UNKNOWN_LABEL).sum() == 2


def test_pk_batches_reject_single_identity():
    with pytest.raises(ValueError, match="two identities"):
        pk_batches(np.array([0, 0, 0, 1]), 2, 2, np.random.default_rng(2))


def test_random_shift_moves_content_without_changing_mass():
    image = np.zeros((1, 1, 8, 8), dtype=np.float32)
    image[0, 0, 3:5, 3:5] = 1
    shifted = random_shift(np.repeat(image, 20, axis=0), 2, np.random.default_rng(3))
    assert shifted.shape == (20, 1, 8, 8)
    # The blob sits 3 pixels from every edge, so a shift of up to 2 keeps it whole.
    np.testing.assert_array_equal(shifted.sum(axis=(1, 2, 3)), 4)
    assert len({tuple(np.argwhere(s[0])[0]) for s in shifted}) > 1
    assert image.sum() == 4


def test_train_step_lowers_triplet_loss_on_fixed_batch():
    rng = np.random.default_rng(4)
    model = build_siamese_network(image_size=8, channels=(4,), hidden_size=16,
                                  embedding_size=8, rng=rng)
    labels = np.repeat(np.arange(3), 4)
    # Each identity is a different bright square plus noise.
    images = rng.random((12, 1, 8, 8), dtype=np.float32) * 0.3
    for index, label in enumerate(labels):
        images[index, 0, 2 * label:2 * label + 3, 2 * label:2 * label + 3] += 1
    config = TrainConfig(mining="hard", lr=1e-2, margin=0.5)
    optimizer = Adam(model.parameters(), lr=config.lr)

    def batch_loss():
        model.eval()
        encodings = model.forward(images)
        model.train()
        a, p, n = mine_triplets(encodings, labels, "hard")
        return triplet_loss(encodings[a], encodings[p], encodings[n], margin=0.5)[0]

    before = batch_loss()
    model.train()
    for _ in range(30):
        loss, triplets = train_step(model, optimizer, images, labels, config, rng)
        assert triplets == 12
        assert np.isfinite(loss)
    assert batch_loss() < before / 2


def test_binary_step_trains_head():
    rng = np.random.default_rng(5)
    model = build_siamese_network(image_size=8, channels=(4,), hidden_size=8,
                                  embedding_size=4, rng=rng)
    head_before = model.head.params["weight"].copy()
    conv_before = model[0].params["weight"].copy()
    config = TrainConfig(loss="binary", mining="random")
    optimizer = Adam(model.parameters(), lr=1e-2)
    images = rng.random((8, 1, 8, 8), dtype=np.float32)
    loss, triplets = train_step(model, optimizer, images, np.repeat(np.arange(4), 2),
                                config, rng)
    assert triplets == 8
    assert loss > 0
    assert not np.array_equal(model.head.params["weight"], head_before)
    assert not np.array_equal(model[0].params["weight"], conv_before)


def test_fit_returns_history_per_epoch():
    rng = np.random.default_rng(6)
    model = build_siamese_network(image_size=8, channels=(4,), hidden_size=8,
                                  embedding_size=4, rng=rng)
    images = rng.random((24, 1, 8, 8), dtype=np.float32)
    labels = np.repeat(np.arange(4), 6)
    config = TrainConfig(epochs=2, classes_per_batch=4, images_per_class=3)
    steps = []
    history = fit(model, images, labels, config,
                  callback=lambda *arguments: steps.append(arguments))
    assert [record["epoch"] for record in history] == [1, 2]
    assert len(steps) == 4  # ceil(24 / 12) batches per epoch
    assert not model.training


@pytest.mark.parametrize("setting, value", [("loss", "contrastive"),
                                            ("mining", "hardest"),
                                            ("images_per_class", 1),
                                            ("epochs", 0)])
def test_config_rejects_invalid_setting(setting, value):
    config = TrainConfig(**{setting: value})
    with pytest.raises(ValueError, match=setting):
        config.validate()
