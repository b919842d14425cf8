"""ReLU, LeakyReLU, Sigmoid and Tanh: gradients, special values, PyTorch agreement."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st
from strategies import away_from_zero, normal_array, seeds

from nnscratch.layers import LeakyReLU, ReLU, Sigmoid, Tanh, sigmoid

shapes = st.sampled_from([(3,), (2, 5), (2, 3, 4), (2, 2, 3, 3)])


@given(shape=shapes, seed=seeds)
def test_relu_gradients_match_central_differences(shape, seed):
    # Inputs stay 0.1 away from the kink at 0, far beyond the step of 1e-6.
    check_layer_gradients(ReLU(), away_from_zero(seed, shape), seed=seed)


# Subnormal slopes are left out: their products keep too few significant bits
# for a central difference with step 1e-6 to reach relative error 1e-6.
@given(shape=shapes, seed=seeds,
       slope=st.one_of(st.just(0.0), st.floats(1e-6, 0.5)))
def test_leaky_relu_gradients_match_central_differences(shape, seed, slope):
    check_layer_gradients(LeakyReLU(slope), away_from_zero(seed, shape), seed=seed)


@given(shape=shapes, seed=seeds, scale=st.sampled_from([1.0, 5.0]))
def test_sigmoid_gradients_match_central_differences(shape, seed, scale):
    x = scale * normal_array(seed, shape)
    check_layer_gradients(Sigmoid(), x, seed=seed)


@given(shape=shapes, seed=seeds, scale=st.sampled_from([1.0, 3.0]))
def test_tanh_gradients_match_central_differences(shape, seed, scale):
    x = scale * normal_array(seed, shape)
    check_layer_gradients(Tanh(), x, seed=seed)


def test_relu_gradient_at_zero_is_zero():
    relu = ReLU()
    relu.forward(np.zeros(3))
    np.testing.assert_array_equal(relu.backward(np.ones(3)), np.zeros(3))


SPECIAL = np.array([-np.inf, -1e30, -2.0, -0.0, 0.0, 3.0, 1e30, np.inf])


def test_relu_of_special_values_matches_maximum():
    relu = ReLU()
    out = relu.forward(SPECIAL)
    np.testing.assert_array_equal(out, np.maximum(SPECIAL, 0.0))
    assert not np.signbit(out).any(), "ReLU must not return -0.0"
    dx = relu.backward(np.full(SPECIAL.shape, np.inf))
    np.testing.assert_array_equal(dx, np.where(SPECIAL > 0, np.inf, 0.0))


def test_leaky_relu_of_special_values():
    out = LeakyReLU(0.1).forward(SPECIAL)
    np.testing.assert_array_equal(out, np.where(SPECIAL > 0, SPECIAL, 0.1 * SPECIAL))


def test_sigmoid_is_finite_and_saturates_for_huge_inputs():
    x = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    with np.errstate(over="raise"):
        out = sigmoid(x)
    assert np.all(np.isfinite(out))
    assert out[0] == 0.0
    assert out[-1] == 1.0
    assert out[3] == 0.5
    np.testing.assert_allclose(out[2], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-15)


def test_sigmoid_is_symmetric():
    x = normal_array(0, (50,)) * 10
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, rtol=1e-15)


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Sigmoid, Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_keeps_dtype(cls, dtype):
    layer = cls()
    x = np.linspace(-2, 2, 12, dtype=dtype).reshape(3, 4)
    out = layer.forward(x)
    assert out.dtype == dtype
    assert layer.backward(np.ones_like(out)).dtype == dtype


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Sigmoid, Tanh])
def test_activation_rejects_integer_input(cls):
    with pytest.raises(TypeError, match="int64"):
        cls().forward(np.arange(4))


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Sigmoid, Tanh])
def test_activation_backward_before_forward_raises(cls):
    with pytest.raises(RuntimeError, match="before forward"):
        cls().backward(np.ones(3))


@given(shape=shapes, seed=seeds)
def test_activations_match_torch(torch, shape, seed):
    x = 3 * normal_array(seed, shape)
    dout = normal_array(seed + 1, shape)
    pairs = [
        (ReLU(), torch.nn.ReLU()),
        (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (Sigmoid(), torch.nn.Sigmoid()),
        (Tanh(), torch.nn.Tanh()),
    ]
    for ours, theirs in pairs:
        out = ours.forward(x)
        dx = ours.backward(dout)
        x_t = torch.tensor(x, requires_grad=True)
        out_t = theirs(x_t)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-14, atol=1e-15)
