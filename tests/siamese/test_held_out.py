"""The embedded held-out benchmarks, their settings and the training source."""

import numpy as np
import pytest

from nnscratch.cli import siamese as siamese_cli
from nnscratch.siamese.benchmarks import (
    BENCHMARK_VERSIONS,
    BENCHMARKS,
    EVAL_DIGITS,
    MODEL_SETTINGS,
    TRAIN_DIGITS,
    TRAIN_SETTINGS,
    load_benchmark,
    load_digits_benchmark,
)
from nnscratch.siamese.commands import check_training_source, make_train_config
from nnscratch.siamese.patches import EVAL_PHOTOGRAPHS, TRAIN_PHOTOGRAPHS
from nnscratch.siamese.train import TrainConfig


def test_digits_benchmark_holds_out_classes():
    benchmark = load_digits_benchmark()
    assert set(np.unique(benchmark.train_labels)) == set(TRAIN_DIGITS)
    assert set(np.unique(benchmark.eval_labels)) == set(EVAL_DIGITS)
    assert not set(TRAIN_DIGITS) & set(EVAL_DIGITS)
    assert benchmark.train_images.shape == (3500, 1, 28, 28)
    assert benchmark.eval_images.shape == (1500, 1, 28, 28)
    assert benchmark.train_images.dtype == np.float32
    assert benchmark.train_images.max() <= 1
    assert (benchmark.image_size, benchmark.channels) == (28, 1)


def test_patches_benchmark_holds_out_photographs():
    benchmark = load_benchmark("patches")
    assert benchmark.version == BENCHMARK_VERSIONS["patches"]
    assert (benchmark.image_size, benchmark.channels) == (32, 1)
    photographs = {name.split("@")[0] for name in benchmark.train_identities}
    assert photographs == set(TRAIN_PHOTOGRAPHS)
    assert not photographs & set(EVAL_PHOTOGRAPHS)
    assert len(benchmark.train_identities) == benchmark.train_labels.max() + 1
    # Hundreds of identities on each side, several views of each.
    assert len(np.unique(benchmark.train_labels)) >= 300
    assert len(np.unique(benchmark.eval_labels)) >= 200
    assert np.bincount(benchmark.eval_labels).min() >= 2
    assert "held-out photographs" in benchmark.eval_source
    # The loader returns copies, so changing them leaves the cache intact.
    benchmark.train_images[0] = -1
    assert load_benchmark("patches").train_images.min() >= 0


def test_unknown_benchmark_is_rejected():
    with pytest.raises(ValueError, match="benchmark must be one of"):
        load_benchmark("faces")


def test_cli_lists_every_benchmark():
    assert siamese_cli.BENCHMARKS == BENCHMARKS
    assert set(TRAIN_SETTINGS) == set(BENCHMARKS)
    assert set(MODEL_SETTINGS) == set(BENCHMARKS)


def test_train_config_takes_benchmark_settings():
    config = make_train_config("patches")
    for key, value in TRAIN_SETTINGS["patches"].items():
        assert getattr(config, key) == value


def test_train_config_options_override_settings():
    config = make_train_config("digits", epochs=3, margin=None, loss="binary")
    assert config.epochs == 3
    assert config.margin == TRAIN_SETTINGS["digits"]["margin"]
    assert config.loss == "binary"


def test_train_config_for_own_data_keeps_defaults():
    assert make_train_config(None) == TrainConfig()


def test_training_source_defaults_to_patches():
    assert check_training_source() == "patches"
    assert check_training_source(benchmark="digits") == "digits"
    assert check_training_source(data="people") is None


@pytest.mark.parametrize("sources", [{"data": "people", "benchmark": "digits"},
                                     {"data": "people", "csv_path": "train.csv"}])
def test_training_source_rejects_two_sources(sources):
    with pytest.raises(ValueError, match="only one training source"):
        check_training_source(**sources)
