"""Sequential: gradients, state dicts with PyTorch's keys, summary, modes."""

import io
import re

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given, settings
from strategies import normal_array, seeds

from nnscratch import Sequential
from nnscratch.layers import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ReLU,
    Tanh,
)


def small_net(seed=0, dtype=np.float64):
    # Tanh sits between the conv and BatchNorm2d: a conv bias right before
    # batch normalisation has an exactly zero gradient, which a relative
    # error cannot check.
    rng = np.random.default_rng(seed)
    return Sequential(
        Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=rng),
        Tanh(),
        BatchNorm2d(3, dtype=dtype),
        MaxPool2d(2),
        Sequential(Conv2d(3, 2, (1, 2), dtype=dtype, rng=rng), ReLU()),
        Flatten(),
        Linear(2 * 2 * 1, 3, dtype=dtype, rng=rng),
    )


# Each example runs about 300 forward passes of the whole net, so a few do.
@settings(max_examples=5)
@given(seed=seeds)
def test_sequential_gradients_match_central_differences(seed):
    model = small_net(seed)
    x = normal_array(seed, (2, 2, 4, 4))
    errors = check_layer_gradients(model, x, seed=seed)
    assert set(errors) == {"x", "0.weight", "0.bias", "2.weight", "2.bias",
                           "4.0.weight", "4.0.bias", "6.weight", "6.bias"}


def test_state_dict_uses_pytorch_keys():
    state = small_net().state_dict()
    assert list(state) == [
        "0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean",
        "2.running_var", "4.0.weight", "4.0.bias", "6.weight", "6.bias",
    ]
    assert state["0.weight"].shape == (3, 2, 3, 3)
    assert state["4.0.weight"].shape == (2, 3, 1, 2)


def test_state_dict_returns_copies():
    model = small_net()
    state = model.state_dict()
    state["0.weight"][...] = 0
    assert np.any(model[0].params["weight"] != 0)


def test_load_state_dict_round_trip_gives_same_outputs():
    source, target = small_net(seed=1).eval(), small_net(seed=2).eval()
    target.load_state_dict(source.state_dict())
    x = normal_array(3, (2, 2, 4, 4))
    np.testing.assert_array_equal(target.forward(x), source.forward(x))


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    model = small_net()
    state = model.state_dict()
    del state["2.running_var"]
    state["9.weight"] = np.zeros(3)
    with pytest.raises(KeyError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing keys ['2.running_var']" in message
    assert "unexpected keys ['9.weight']" in message


def test_load_state_dict_non_strict_loads_matching_keys():
    model = small_net(seed=1)
    state = small_net(seed=2).state_dict()
    del state["6.bias"]
    state["extra"] = np.zeros(1)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["6.bias"]
    assert unexpected == ["extra"]
    np.testing.assert_array_equal(model[6].params["weight"], state["6.weight"])


def test_load_state_dict_wrong_shape_names_key_and_loads_nothing():
    model = small_net(seed=1)
    before = model.state_dict()
    state = small_net(seed=2).state_dict()
    state["6.weight"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"'6.weight' has shape \(3, 5\), the model "
                                         r"expects \(3, 4\)"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_load_state_dict_keeps_model_dtype():
    model = small_net(dtype=np.float32)
    state = {k: v.astype(np.float64) for k, v in small_net().state_dict().items()}
    model.load_state_dict(state)
    assert all(v.dtype == np.float32 for v in model.state_dict().values())


def test_torch_state_dict_loads_and_gives_same_outputs(torch):
    nn = torch.nn
    theirs = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.BatchNorm2d(3), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(3, 2, (1, 2)), nn.ReLU()), nn.Flatten(),
        nn.Linear(4, 3),
    ).double()
    # A few training passes move BatchNorm's running statistics off 0 and 1.
    for step in range(3):
        theirs(torch.randn(4, 2, 4, 4, dtype=torch.float64) * (step + 2))
    theirs.eval()
    state = {key: value.numpy() for key, value in theirs.state_dict().items()}
    assert "2.num_batches_tracked" in state  # PyTorch-only, skipped on load

    ours = small_net(seed=5).eval()
    ours.load_state_dict(state)
    x = normal_array(4, (3, 2, 4, 4))
    expected = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours.forward(x), expected, rtol=1e-12, atol=1e-12)


def test_train_and_eval_reach_nested_layers():
    model = small_net()
    model.eval()
    assert not any(layer.training for _, layer in model.named_layers())
    model.train()
    assert all(layer.training for _, layer in model.named_layers())


def test_parameters_are_live_views_named_like_state_dict():
    model = small_net()
    parameters = model.parameters()
    assert [p.name for p in parameters] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.0.weight", "4.0.bias",
        "6.weight", "6.bias",
    ]
    parameters[0].data[...] = 7
    np.testing.assert_array_equal(model[0].params["weight"], 7)
    assert parameters[0].grad is None
    model.forward(normal_array(0, (2, 2, 4, 4)))
    model.backward(np.ones((2, 3)))
    assert parameters[0].grad is model[0].grads["weight"]
    model.zero_grad()
    assert all(p.grad is None for p in parameters)


def test_astype_converts_parameters_and_buffers():
    model = small_net(dtype=np.float32).astype(np.float64)
    assert all(v.dtype == np.float64 for v in model.state_dict().values())
    out = model.forward(normal_array(0, (2, 2, 4, 4)))
    assert out.dtype == np.float64


def test_sequential_rejects_non_layer_argument():
    with pytest.raises(TypeError, match="argument 1 must be a Layer, got function"):
        Sequential(ReLU(), lambda x: x)


def test_output_shape_and_flops_add_up_over_layers():
    model = small_net()
    shape = (2, 2, 4, 4)
    assert model.output_shape(shape) == (2, 3)
    assert model.forward(normal_array(0, shape)).shape == (2, 3)
    assert model.flops(shape) == sum(
        layer.flops(s) for layer, s in zip(model.layers, layer_inputs(model, shape))
    )


def layer_inputs(model, shape):
    shapes = []
    for layer in model.layers:
        shapes.append(shape)
        shape = layer.output_shape(shape)
    return shapes


def summary_net():
    return Sequential(Conv2d(3, 8, 5, padding=2), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(8 * 16 * 16, 10))


def test_summary_matches_hand_computation():
    model = summary_net()
    stream = io.StringIO()
    table = model.summary((2, 3, 32, 32), file=stream)
    assert stream.getvalue() == table + "\n"
    rows = {line.split(":")[0]: line for line in table.splitlines() if ":" in line}

    # Conv: 8 * 3 * 5 * 5 weights + 8 biases; 2 FLOPs per multiply-add for each
    # of N * F * OH * OW outputs over C * KH * KW inputs.
    conv_flops = 2 * (2 * 8 * 32 * 32) * (3 * 5 * 5)
    assert conv_flops == 2_457_600
    assert cells(rows["0"]) == ["0: Conv2d", "(2, 8, 32, 32)", "608", "2.46",
                                "64.0 KiB"]
    # ReLU: one FLOP per element; max pool: one comparison per window element.
    assert cells(rows["1"]) == ["1: ReLU", "(2, 8, 32, 32)", "0", "0.02",
                                "64.0 KiB"]
    assert cells(rows["2"]) == ["2: MaxPool2d", "(2, 8, 16, 16)", "0", "0.02",
                                "16.0 KiB"]
    assert cells(rows["3"]) == ["3: Flatten", "(2, 2048)", "0", "0.00",
                                "16.0 KiB"]
    # Linear: 2048 * 10 + 10 parameters, 2 * N * 2048 * 10 FLOPs, 2 * 10 * 4 bytes.
    assert cells(rows["4"]) == ["4: Linear", "(2, 10)", "20,490", "0.08", "80 B"]

    total = next(line for line in table.splitlines() if line.startswith("total"))
    total_flops = conv_flops + 2 * 16384 + 2 * 2 * 2048 * 10
    assert f"{total_flops / 1e6:.2f}" == "2.57"
    total_bytes = 2 * 65536 + 2 * 16384 + 80
    assert cells(total) == ["total", "21,098", "2.57",
                            f"{total_bytes / 1024:.1f} KiB"]
    assert model.flops((2, 3, 32, 32)) == total_flops


def cells(line):
    """Split a summary row into its cells, which are two or more spaces apart."""
    return re.split(r"\s{2,}", line.strip())


def test_summary_counts_float64_activations_at_eight_bytes():
    table = summary_net().summary((1, 3, 32, 32), dtype=np.float64,
                                  file=io.StringIO())
    # (1, 8, 32, 32) float64 values take 8192 * 8 bytes = 64 KiB.
    assert "64.0 KiB" in table.splitlines()[2]


class Doubler(Layer):
    """A custom layer without output_shape or flops overrides."""

    def forward(self, x):
        self._cache = True
        return 2 * x

    def backward(self, dout):
        self._pop_cache()
        return 2 * dout


def test_custom_layer_works_inside_sequential():
    model = Sequential(Doubler(), Dropout(0.0), Doubler())
    x = normal_array(0, (2, 3))
    np.testing.assert_array_equal(model.forward(x), 4 * x)
    np.testing.assert_array_equal(model.backward(np.ones((2, 3))), 4)
    assert model.output_shape((2, 3)) == (2, 3)


def test_backward_without_input_grad_keeps_parameter_grads():
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(2, 3, 3, padding=1, dtype=np.float64),
                       Sequential(ReLU(), Conv2d(3, 2, 1, dtype=np.float64)))
    x = rng.standard_normal((2, 2, 5, 5))
    dout = rng.standard_normal((2, 2, 5, 5))
    model.forward(x)
    dx = model.backward(dout)
    full = {p.name: p.grad.copy() for p in model.parameters()}
    assert dx.shape == x.shape

    model.forward(x)
    assert model.backward(dout, input_grad=False) is None
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad, full[p.name], err_msg=p.name)


def test_conv_backward_without_input_grad_returns_none():
    rng = np.random.default_rng(1)
    conv = Conv2d(3, 4, 3, stride=2, padding=1, dtype=np.float64)
    x = rng.standard_normal((2, 3, 7, 7))
    dout = rng.standard_normal(conv.output_shape(x.shape))
    conv.forward(x)
    conv.backward(dout)
    weight_grad, bias_grad = conv.grads["weight"].copy(), conv.grads["bias"].copy()
    conv.forward(x)
    assert conv.backward(dout, input_grad=False) is None
    np.testing.assert_array_equal(conv.grads["weight"], weight_grad)
    np.testing.assert_array_equal(conv.grads["bias"], bias_grad)
