"""Feature networks: taps, the tapped backward pass and the VGG-19 loader."""

import numpy as np
import pytest

from nnscratch.layers import BatchNorm2d, Conv2d, Dropout, ReLU
from nnscratch.model import Sequential
from nnscratch.style import (
    VGG19_CONFIG,
    FeatureNetwork,
    load_vgg19_npz,
    random_multiscale_network,
    vgg_features,
)

SMALL_CONFIG = (4, "M", 6, 6, "M")
# torchvision's vgg19().features puts its 16 convolutions at these indices.
TORCHVISION_VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def write_small_vgg(path, drop=None, reshape=None, extra=None):
    model, _ = vgg_features(SMALL_CONFIG)
    arrays = {f"features.{key}": value for key, value in model.state_dict().items()}
    arrays["classifier.0.weight"] = np.zeros((2, 2), np.float32)
    if drop:
        del arrays[drop]
    if reshape:
        arrays[reshape] = arrays[reshape][..., :1]
    arrays.update(extra or {})
    np.savez(path, **arrays)
    return arrays


def test_random_network_is_reproducible():
    first = random_multiscale_network(widths=(4, 4), kernel_sizes=(3, 3), seed=5)
    second = random_multiscale_network(widths=(4, 4), kernel_sizes=(3, 3), seed=5)
    for a, b in zip(first.model.state_dict().values(),
                    second.model.state_dict().values()):
        np.testing.assert_array_equal(a, b)


def test_forward_returns_tapped_layers_only():
    network = random_multiscale_network(widths=(4, 5), kernel_sizes=(3, 3))
    outputs = network.forward(np.zeros((1, 3, 8, 8), np.float32), ["relu2", "relu1"])
    assert sorted(outputs) == ["relu1", "relu2"]
    assert outputs["relu1"].shape == (1, 4, 8, 8)
    assert outputs["relu2"].shape == (1, 5, 4, 4)


def test_backward_sums_gradients_of_two_taps():
    # The gradient with taps at relu1 and relu2 is the sum of each alone.
    network = random_multiscale_network(widths=(3, 4), kernel_sizes=(3, 3),
                                        dtype=np.float64)
    image = np.random.default_rng(0).random((1, 3, 6, 6))
    rng = np.random.default_rng(1)
    d1, d2 = rng.standard_normal((1, 3, 6, 6)), rng.standard_normal((1, 4, 3, 3))
    network.forward(image, ["relu1", "relu2"])
    both = network.backward({"relu1": d1, "relu2": d2})
    network.forward(image, ["relu1"])
    first = network.backward({"relu1": d1})
    network.forward(image, ["relu2"])
    second = network.backward({"relu2": d2})
    np.testing.assert_allclose(both, first + second, rtol=1e-12)


def test_backward_before_forward_raises():
    network = random_multiscale_network(widths=(3,), kernel_sizes=(3,))
    with pytest.raises(RuntimeError, match="before forward"):
        network.backward({"relu1": np.zeros((1, 3, 4, 4), np.float32)})


def test_backward_rejects_tap_past_forward_depth():
    network = random_multiscale_network(widths=(3, 3), kernel_sizes=(3, 3))
    network.forward(np.zeros((1, 3, 4, 4), np.float32), ["relu1"])
    with pytest.raises(ValueError, match="relu2"):
        network.backward({"relu2": np.zeros((1, 3, 2, 2), np.float32)})


def test_unknown_layer_name_raises():
    network = random_multiscale_network(widths=(3,), kernel_sizes=(3,))
    with pytest.raises(ValueError, match="relu9"):
        network.forward(np.zeros((1, 3, 4, 4), np.float32), ["relu9"])


def test_batchnorm_and_dropout_run_in_eval_mode():
    model = Sequential(Conv2d(3, 2, 3, padding=1), BatchNorm2d(2), ReLU(), Dropout(0.5))
    model[1].buffers["running_mean"][:] = 1.0
    network = FeatureNetwork(model, ["conv", "bn", "relu", "drop"], (0.0,) * 3,
                             (1.0,) * 3, {"drop": 1.0}, {"drop": 1.0})
    image = np.random.default_rng(0).random((1, 3, 5, 5)).astype(np.float32)
    first = network.forward(image, ["drop"])["drop"].copy()
    second = network.forward(image, ["drop"])["drop"]
    # Train-mode dropout would draw new masks; train-mode batch norm would
    # ignore the running mean of 1 and centre each channel on 0.
    np.testing.assert_array_equal(first, second)
    assert not model[1].training
    assert model[0].training


def test_vgg19_layer_order_matches_torchvision():
    model, names = vgg_features(VGG19_CONFIG)
    convs = tuple(i for i, layer in enumerate(model.layers) if isinstance(layer, Conv2d))
    assert convs == TORCHVISION_VGG19_CONVS
    assert len(model) == 37
    assert names[21] == "conv4_2"
    assert names[22] == "relu4_2"
    assert names[36] == "pool5"


def test_vgg_loader_reads_matching_npz(tmp_path):
    path = tmp_path / "vgg.npz"
    arrays = write_small_vgg(path)
    network = load_vgg19_npz(path, config=SMALL_CONFIG)
    np.testing.assert_array_equal(network.model[3].params["weight"],
                                  arrays["features.3.weight"])
    assert network.style_layers == {"relu1_1": 0.5, "relu2_1": 0.5}
    assert network.layer_names[:3] == ["conv1_1", "relu1_1", "pool1"]


def test_vgg_loader_names_missing_key(tmp_path):
    path = tmp_path / "vgg.npz"
    write_small_vgg(path, drop="features.5.bias")
    with pytest.raises(ValueError, match=r"missing keys \['features.5.bias'\]"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg_loader_names_unexpected_key(tmp_path):
    path = tmp_path / "vgg.npz"
    write_small_vgg(path, extra={"features.99.weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="features.99.weight"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg_loader_names_wrong_shape(tmp_path):
    path = tmp_path / "vgg.npz"
    write_small_vgg(path, reshape="features.3.weight")
    with pytest.raises(ValueError, match=r"'features.3.weight' has shape \(6, 4, 3, 1\)"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg_loader_rejects_full_vgg19_for_small_file(tmp_path):
    path = tmp_path / "vgg.npz"
    write_small_vgg(path)
    with pytest.raises(ValueError, match="missing keys"):
        load_vgg19_npz(path)


def test_vgg_loader_rejects_pickled_arrays(tmp_path):
    path = tmp_path / "vgg.npz"
    np.savez(path, **{"features.0.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickled"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg_loader_rejects_non_npz(tmp_path):
    path = tmp_path / "vgg.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg_loader_missing_file_says_how_to_convert(tmp_path):
    with pytest.raises(FileNotFoundError, match="convert"):
        load_vgg19_npz(tmp_path / "absent.npz")


def test_vgg_loader_rejects_lone_npy(tmp_path):
    path = tmp_path / "vgg.npz"
    with open(path, "wb") as stream:
        np.save(stream, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_vgg19_npz(path, config=SMALL_CONFIG)


def test_vgg19_loader_matches_torch_features(tmp_path, torch):
    # torchvision's vgg19().features is this nn.Sequential; building it here
    # runs the conversion of load_vgg19_npz's docstring without torchvision.
    nn = torch.nn
    torch.manual_seed(0)
    layers, in_channels = [], 3
    for item in VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = item
    features = nn.Sequential(*layers).eval()
    path = tmp_path / "vgg19.npz"
    np.savez(path, **{f"features.{key}": value.numpy()
                      for key, value in features.state_dict().items()})

    network = load_vgg19_npz(path, pool="max")
    image = np.random.default_rng(0).random((1, 3, 32, 32)).astype(np.float32)
    outputs = network.forward(image, ["relu4_2", "pool5"])
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    with torch.no_grad():
        x = (torch.from_numpy(image) - mean) / std
        expected_relu4_2 = features[:23](x).numpy()
        expected_pool5 = features(x).numpy()
    # float32 through 16 convolutions: relative rounding near 1e-5.
    scale = np.abs(expected_relu4_2).max()
    np.testing.assert_allclose(outputs["relu4_2"], expected_relu4_2, atol=1e-4 * scale)
    np.testing.assert_allclose(outputs["pool5"], expected_pool5,
                               atol=1e-4 * np.abs(expected_pool5).max())
