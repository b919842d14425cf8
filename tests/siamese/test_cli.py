"""End to end: a tiny generated identity folder trains, verifies and identifies."""

import json

import numpy as np
import pytest

from nnscratch import load_checkpoint, save_checkpoint
from nnscratch.cli import main
from nnscratch.siamese.benchmarks import BENCHMARK_VERSIONS
from nnscratch.siamese.commands import identify_image, verify_images
from nnscratch.siamese.evaluate import evaluate_command, normalised_pixels
from nnscratch.siamese.model import build_siamese_network
from nnscratch.zoo import load_model, model_spec

from .identities import make_identity_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("siamese")
    people = make_identity_folder(root / "people", per_identity=6, size=16)
    gallery = root / "gallery"
    gallery.mkdir()
    for name in ("astronaut", "camera", "chelsea", "coffee"):
        (gallery / f"{name}.png").write_bytes((people / name / "0.png").read_bytes())
    out = root / "run"
    status = main(["siamese", "train", "--data", str(people), "--epochs", "4",
                   "--image-size", "16", "--classes-per-batch", "4",
                   "--images-per-class", "4", "--embedding-size", "16",
                   "--out", str(out)])
    assert status == 0
    return {"people": people, "gallery": gallery, "weights": out / "siamese.npz"}


def test_train_writes_checkpoint_with_tau(trained, capsys):
    _, metadata = load_checkpoint(trained["weights"])
    assert np.isfinite(metadata["tau"])
    assert metadata["score"] == "distance"
    assert metadata["model"]["name"] == "siamese"
    assert metadata["identities"] == ["astronaut", "camera", "chelsea", "coffee"]
    assert metadata["benchmark"] is None
    assert metadata["train_config"]["images_per_class"] == 4
    model, _ = load_model(trained["weights"])
    assert model.embedding_size == 16


def test_verify_prints_distance_and_decision(trained, capsys):
    people = trained["people"]
    status = main(["siamese", "verify", str(people / "camera" / "1.png"),
                   str(people / "coffee" / "2.png"), "--weights",
                   str(trained["weights"])])
    output = capsys.readouterr().out
    assert status == 0
    assert "squared distance:" in output
    assert "tau" in output
    assert ("same" in output) or ("different" in output)


def test_verify_warns_about_blank_images(trained, tmp_path, capsys):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (1, 1), 200).save(blank)
    photo = trained["people"] / "camera" / "1.png"
    status = main(["siamese", "verify", str(blank), str(photo), "--weights",
                   str(trained["weights"])])
    err = capsys.readouterr().err
    assert status == 0
    assert f"warning: {blank} has one value everywhere" in err
    assert str(photo) not in err
    result = identify_image(blank, trained["gallery"], weights=trained["weights"])
    assert result["constant"] == [str(blank)]


def test_verify_same_image_is_same(trained):
    image = trained["people"] / "chelsea" / "3.png"
    result = verify_images(image, image, weights=trained["weights"])
    assert result["distance"] == pytest.approx(0, abs=1e-6)
    assert result["same"]


def test_identify_ranks_every_gallery_identity(trained, capsys):
    status = main(["siamese", "identify", str(trained["people"] / "astronaut" / "4.png"),
                   "--gallery", str(trained["gallery"]), "--weights",
                   str(trained["weights"])])
    output = capsys.readouterr().out
    assert status == 0
    result = identify_image(trained["people"] / "astronaut" / "4.png",
                            trained["gallery"], weights=trained["weights"])
    assert sorted(name for name, _ in result["ranking"]) == [
        "astronaut", "camera", "chelsea", "coffee"]
    assert result["identity"] in output


def test_identify_gallery_image_finds_itself(trained):
    result = identify_image(trained["gallery"] / "coffee.png", trained["gallery"],
                            weights=trained["weights"])
    assert result["nearest"] == "coffee"
    assert result["score"] == pytest.approx(0, abs=1e-6)


def test_identify_beyond_tau_is_unknown(trained, tmp_path):
    model, metadata = load_model(trained["weights"])
    metadata.pop("format_version")
    metadata["tau"] = -1.0
    strict = save_checkpoint(tmp_path / "strict.npz", model, **metadata)
    result = identify_image(trained["gallery"] / "coffee.png", trained["gallery"],
                            weights=strict)
    assert result["identity"] == "unknown"
    assert result["nearest"] == "coffee"


def test_evaluate_writes_json_and_roc(trained, tmp_path, capsys):
    json_path = tmp_path / "metrics.json"
    roc_path = tmp_path / "roc.png"
    status = main(["siamese", "evaluate", "--data", str(trained["people"]),
                   "--json", str(json_path), "--roc", str(roc_path), "--trials",
                   "200", "--weights", str(trained["weights"])])
    assert status == 0
    assert "ROC AUC" in capsys.readouterr().out
    result = json.loads(json_path.read_text())
    for key in ("auc", "accuracy", "tar_at_far_1e-3", "one_shot_accuracy"):
        assert key in result
        assert 0 <= result[key] <= 1
    # The identities were seen in training, so the distances separate them.
    assert result["auc"] > 0.7
    assert roc_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_binary_loss_trains_and_verifies(trained, tmp_path):
    status = main(["siamese", "train", "--data", str(trained["people"]),
                   "--loss", "binary", "--mining", "random", "--epochs", "2",
                   "--image-size", "16", "--classes-per-batch", "4",
                   "--images-per-class", "4", "--embedding-size", "8",
                   "--out", str(tmp_path)])
    assert status == 0
    _, metadata = load_checkpoint(tmp_path / "siamese.npz")
    assert metadata["score"] == "logistic"
    image = trained["people"] / "camera" / "0.png"
    result = verify_images(image, image, weights=tmp_path / "siamese.npz")
    assert 0 <= result["score"] <= 1


def test_missing_weights_is_a_clear_error(tmp_path, capsys):
    status = main(["siamese", "evaluate", "--weights", str(tmp_path / "none.npz")])
    assert status == 2
    assert "siamese train" in capsys.readouterr().err


def test_whale_csv_missing_file_error(tmp_path, capsys):
    folder = tmp_path / "whales"
    folder.mkdir()
    (folder / "train.csv").write_text("Image,Id\nmissing.jpg,w_1\n")
    status = main(["siamese", "train", "--csv", str(folder / "train.csv"),
                   "--out", str(tmp_path / "run")])
    assert status == 2
    assert "line 2" in capsys.readouterr().err


def write_untrained_checkpoint(path, image_size=32, **metadata):
    """Save an untrained network with the metadata that `siamese train` writes."""
    config = {"in_channels": 1, "image_size": image_size, "embedding_size": 8,
              "channels": [4, 8], "hidden_size": 16}
    model = build_siamese_network(**config, rng=np.random.default_rng(0))
    fields = {"tau": 0.5, "score": "distance", "source": "test",
              "benchmark": "patches",
              "benchmark_version": BENCHMARK_VERSIONS["patches"], **metadata}
    return save_checkpoint(path, model, model=model_spec("siamese", **config),
                           **fields)


def test_evaluate_defaults_to_checkpoint_benchmark(tmp_path):
    weights = write_untrained_checkpoint(tmp_path / "patches.npz")
    json_path = tmp_path / "metrics.json"
    status = main(["siamese", "evaluate", "--weights", str(weights), "--json",
                   str(json_path), "--trials", "100"])
    assert status == 0
    result = json.loads(json_path.read_text())
    assert result["benchmark"] == "patches"
    assert result["benchmark_version"] == BENCHMARK_VERSIONS["patches"]
    assert "held-out photographs" in result["data"]
    for key in ("auc", "accuracy", "tar_at_far_1e-3", "one_shot_accuracy",
                "distance_auc", "pixel_auc", "pixel_one_shot_accuracy"):
        assert 0 <= result[key] <= 1
    assert result["distance_auc"] == result["auc"]


def test_normalised_pixels_distance_is_correlation():
    images = np.random.default_rng(1).random((3, 1, 4, 5))
    images[2] = 0.7
    pixels = normalised_pixels(images)
    assert pixels.shape == (3, 20)
    np.testing.assert_allclose(np.linalg.norm(pixels[:2], axis=1), 1)
    np.testing.assert_allclose(pixels[:2].mean(axis=1), 0, atol=1e-12)
    np.testing.assert_array_equal(pixels[2], 0)
    correlation = np.corrcoef(images[0].ravel(), images[1].ravel())[0, 1]
    distance = ((pixels[0] - pixels[1]) ** 2).sum()
    assert distance == pytest.approx(2 - 2 * correlation)


def test_evaluate_reads_old_checkpoint_as_digits(tmp_path):
    # Checkpoints from before benchmarks were recorded trained on the digits.
    config = {"in_channels": 1, "image_size": 28, "embedding_size": 8,
              "channels": [4], "hidden_size": 8}
    model = build_siamese_network(**config, rng=np.random.default_rng(1))
    weights = save_checkpoint(tmp_path / "old.npz", model,
                              model=model_spec("siamese", **config), tau=0.5,
                              score="distance")
    result = evaluate_command(weights=str(weights), trials=50,
                              roc_path=str(tmp_path / "roc.png"))
    assert result["benchmark"] == "digits"
    assert result["images"] == 1500


def test_evaluate_rejects_other_benchmark_version(tmp_path, capsys):
    weights = write_untrained_checkpoint(tmp_path / "old.npz",
                                         benchmark_version=0)
    status = main(["siamese", "evaluate", "--weights", str(weights)])
    assert status == 2
    assert "benchmark version 0" in capsys.readouterr().err


def test_evaluate_rejects_other_input_format(tmp_path, capsys):
    weights = write_untrained_checkpoint(tmp_path / "patches.npz")
    status = main(["siamese", "evaluate", "--weights", str(weights), "--benchmark",
                   "digits"])
    assert status == 2
    assert "28 x 28" in capsys.readouterr().err


def test_evaluate_own_data_needs_data_folder(trained, capsys):
    status = main(["siamese", "evaluate", "--weights", str(trained["weights"])])
    assert status == 2
    assert "pass --data DIR" in capsys.readouterr().err


def test_train_rejects_benchmark_with_data(trained, tmp_path, capsys):
    status = main(["siamese", "train", "--data", str(trained["people"]),
                   "--benchmark", "digits", "--out", str(tmp_path)])
    assert status == 2
    assert "only one training source" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["patches"])
def test_default_benchmark_meets_targets(benchmark, tmp_path):
    # The targets: ROC AUC >= 0.95 and 3-way one-shot accuracy >= 90% on the
    # held-out identities, with the triplet loss and semi-hard mining. It
    # trains for about 2 minutes of CPU time.
    status = main(["siamese", "train", "--benchmark", benchmark, "--out",
                   str(tmp_path)])
    assert status == 0
    json_path = tmp_path / "metrics.json"
    status = main(["siamese", "evaluate", "--weights", str(tmp_path / "siamese.npz"),
                   "--json", str(json_path)])
    assert status == 0
    result = json.loads(json_path.read_text())
    assert result["benchmark"] == benchmark
    assert result["auc"] >= 0.95
    assert result["one_shot_accuracy"] >= 0.90


def test_image_size_below_pools_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["siamese", "train", "--data", str(tmp_path), "--image-size", "3"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--image-size" in error
    assert "must be at least 4, got 3" in error


def test_image_size_minimum_matches_pools():
    from nnscratch.cli.siamese import MIN_IMAGE_SIZE
    from nnscratch.siamese.model import build_siamese_network

    build_siamese_network(image_size=MIN_IMAGE_SIZE)
    with pytest.raises(ValueError, match="too small"):
        build_siamese_network(image_size=MIN_IMAGE_SIZE - 1)


def test_identify_gallery_is_a_file(trained, tmp_path, capsys):
    gallery = tmp_path / "gallery.png"
    gallery.write_bytes((trained["gallery"] / "camera.png").read_bytes())
    status = main(["siamese", "identify", str(gallery), "--gallery", str(gallery),
                   "--weights", str(trained["weights"])])
    assert status == 2
    assert "is a file; give a folder with one image per identity" in (
        capsys.readouterr().err)
