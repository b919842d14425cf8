"""Linear and Flatten: gradients, shapes and agreement with PyTorch."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.layers import Conv2d, Flatten, Linear

sizes = st.integers(1, 6)


def make_linear(in_features, out_features, bias=True, seed=0):
    return Linear(in_features, out_features, bias=bias, dtype=np.float64,
                  rng=np.random.default_rng(seed))


@given(batch=st.integers(1, 4), in_features=sizes, out_features=sizes,
       bias=st.booleans(), seed=seeds)
def test_linear_gradients_match_central_differences(batch, in_features, out_features,
                                                    bias, seed):
    linear = make_linear(in_features, out_features, bias, seed)
    errors = check_layer_gradients(linear, normal_array(seed, (batch, in_features)),
                                   seed=seed)
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())


@given(batch=st.integers(1, 4), in_features=sizes, out_features=sizes, seed=seeds)
def test_linear_equals_matrix_product(batch, in_features, out_features, seed):
    linear = make_linear(in_features, out_features, seed=seed)
    x = normal_array(seed, (batch, in_features))
    expected = x @ linear.params["weight"].T + linear.params["bias"]
    np.testing.assert_allclose(linear.forward(x), expected, rtol=1e-12, atol=1e-14)


@given(shape=st.sampled_from([(2, 3), (1, 2, 3), (3, 2, 2, 2), (2, 1, 1, 5)]),
       seed=seeds)
def test_flatten_gradients_match_central_differences(shape, seed):
    flatten = Flatten()
    x = normal_array(seed, shape)
    out = flatten.forward(x)
    assert out.shape == (shape[0], int(np.prod(shape[1:])))
    assert flatten.output_shape(shape) == out.shape
    check_layer_gradients(flatten, x, seed=seed)


def test_flatten_is_c_ordered_like_torch_flatten():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)
    out = Flatten().forward(x)
    np.testing.assert_array_equal(out[1], np.arange(12, 24))


def test_flatten_keeps_empty_batch():
    flatten = Flatten()
    out = flatten.forward(np.zeros((0, 3, 2, 2)))
    assert out.shape == (0, 12)
    assert flatten.backward(np.zeros((0, 12))).shape == (0, 3, 2, 2)


def test_linear_empty_batch():
    linear = make_linear(3, 2)
    out = linear.forward(np.zeros((0, 3)))
    assert out.shape == (0, 2)
    assert linear.backward(np.zeros((0, 2))).shape == (0, 3)
    np.testing.assert_array_equal(linear.grads["weight"], np.zeros((2, 3)))


def test_linear_is_a_one_by_one_convolution():
    linear = make_linear(4, 3, seed=2)
    conv = Conv2d(4, 3, 1, dtype=np.float64)
    conv.params["weight"] = linear.params["weight"].reshape(3, 4, 1, 1).copy()
    conv.params["bias"] = linear.params["bias"].copy()
    x = normal_array(3, (5, 4))
    np.testing.assert_allclose(linear.forward(x),
                               conv.forward(x[:, :, None, None])[:, :, 0, 0],
                               rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_keeps_dtype(dtype):
    linear = Linear(3, 2, dtype=dtype)
    out = linear.forward(np.ones((4, 3), dtype=dtype))
    dx = linear.backward(np.ones_like(out))
    assert out.dtype == dtype
    assert dx.dtype == dtype
    assert linear.grads["weight"].dtype == dtype
    assert linear.grads["bias"].dtype == dtype


@given(batch=st.integers(1, 5), in_features=sizes, out_features=sizes,
       bias=st.booleans(), seed=seeds)
def test_linear_matches_torch(torch, batch, in_features, out_features, bias, seed):
    linear = make_linear(in_features, out_features, bias, seed)
    x = normal_array(seed, (batch, in_features))
    dout = normal_array(seed + 1, (batch, out_features))
    out = linear.forward(x)
    dx = linear.backward(dout)

    theirs = torch.nn.Linear(in_features, out_features, bias=bias).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(linear.params["weight"]))
        if bias:
            theirs.bias.copy_(torch.tensor(linear.params["bias"]))
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(linear.grads["weight"], theirs.weight.grad.numpy(),
                               rtol=1e-12, atol=1e-14)
    if bias:
        np.testing.assert_allclose(linear.grads["bias"], theirs.bias.grad.numpy(),
                                   rtol=1e-12, atol=1e-14)
