"""Initialisers: fans, gains, spreads, PyTorch's defaults and seeding."""

import json
import math

import numpy as np
import pytest

from nnscratch import init, manual_seed
from nnscratch.layers import Conv2d, Linear

# 256 * 64 * 3 * 3 = 147,456 draws: the sample std is within about 0.4% of the
# true one, so a 2% tolerance never fails by chance.
SHAPE = (256, 64, 3, 3)
FAN_IN = 64 * 9
FAN_OUT = 256 * 9


@pytest.fixture(autouse=True)
def restore_default_generator():
    """Keep tests that reseed from changing the generator for later tests."""
    state = init.get_rng_state()
    yield
    init.set_rng_state(state)


def rng():
    return np.random.default_rng(0)


def test_fans_of_conv_and_linear_weights():
    assert init.fans(SHAPE) == (FAN_IN, FAN_OUT)
    assert init.fans((10, 20)) == (20, 10)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got \(5,\)"):
        init.fans((5,))


@pytest.mark.parametrize("nonlinearity, slope, expected", [
    ("relu", 0.0, math.sqrt(2)),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("tanh", 0.0, 5 / 3),
    ("sigmoid", 0.0, 1.0),
    ("linear", 0.0, 1.0),
])
def test_kaiming_normal_std(nonlinearity, slope, expected):
    # std = gain / sqrt(fan_in)
    weight = init.kaiming_normal(SHAPE, nonlinearity, slope, rng=rng(),
                                 dtype=np.float64)
    assert weight.shape == SHAPE
    assert weight.dtype == np.float64
    np.testing.assert_allclose(weight.std(), expected / math.sqrt(FAN_IN), rtol=0.02)
    assert abs(weight.mean()) < 0.01 * weight.std()


def test_kaiming_gains_match_torch(torch):
    for nonlinearity, slope in [("relu", None), ("leaky_relu", 0.2), ("tanh", None),
                                ("sigmoid", None), ("linear", None)]:
        expected = torch.nn.init.calculate_gain(nonlinearity, slope)
        weight = init.kaiming_uniform(SHAPE, nonlinearity, slope or 0.0, rng=rng())
        bound = expected * math.sqrt(3 / FAN_IN)
        assert np.abs(weight).max() <= bound
        assert np.abs(weight).max() > 0.99 * bound


def test_kaiming_uniform_bound_and_spread():
    weight = init.kaiming_uniform(SHAPE, rng=rng())
    bound = math.sqrt(2) * math.sqrt(3 / FAN_IN)
    assert weight.dtype == np.float32
    assert np.abs(weight).max() <= bound
    np.testing.assert_allclose(weight.std(), bound / math.sqrt(3), rtol=0.02)


def test_glorot_uniform_and_normal_spreads():
    uniform = init.glorot_uniform(SHAPE, rng=rng())
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert np.abs(uniform).max() <= bound
    np.testing.assert_allclose(uniform.std(), bound / math.sqrt(3), rtol=0.02)
    normal = init.glorot_normal(SHAPE, rng=rng())
    np.testing.assert_allclose(normal.std(), math.sqrt(2 / (FAN_IN + FAN_OUT)),
                               rtol=0.02)


def test_pytorch_default_bounds_match_torch_layers(torch):
    weight, bias = init.pytorch_default((64, 400), rng=rng())
    bound = 1 / math.sqrt(400)
    assert bias.shape == (64,)
    for ours in (weight, bias):
        assert np.abs(ours).max() <= bound
    theirs = torch.nn.Linear(400, 64)
    assert theirs.weight.abs().max().item() <= bound
    assert theirs.bias.abs().max().item() <= bound
    assert np.abs(weight).max() > 0.99 * bound
    np.testing.assert_allclose(weight.std(), theirs.weight.std().item(), rtol=0.05)

    conv_theirs = torch.nn.Conv2d(16, 32, 5)
    conv_weight, _ = init.pytorch_default((32, 16, 5, 5), rng=rng())
    np.testing.assert_allclose(conv_weight.std(), conv_theirs.weight.std().item(),
                               rtol=0.05)


def test_unknown_nonlinearity_is_named():
    with pytest.raises(ValueError, match="got 'gelu'"):
        init.kaiming_normal(SHAPE, "gelu")


def test_manual_seed_makes_layers_reproducible():
    manual_seed(7)
    first = Conv2d(3, 4, 3).params["weight"].copy()
    manual_seed(7)
    second = Conv2d(3, 4, 3).params["weight"]
    np.testing.assert_array_equal(first, second)
    expected, _ = init.pytorch_default((4, 3, 3, 3), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first, expected)


def test_explicit_rng_overrides_library_generator():
    manual_seed(1)
    a = Linear(5, 3, rng=np.random.default_rng(42)).params["weight"]
    manual_seed(2)
    b = Linear(5, 3, rng=np.random.default_rng(42)).params["weight"]
    np.testing.assert_array_equal(a, b)


def test_rng_state_round_trips_through_json():
    manual_seed(3)
    init.default_rng().random(5)
    state = json.loads(json.dumps(init.get_rng_state()))
    expected = init.default_rng().random(4)
    init.set_rng_state(state)
    np.testing.assert_array_equal(init.default_rng().random(4), expected)
