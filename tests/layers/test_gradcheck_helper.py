"""The gradient checker itself: it must catch a wrong backward pass."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients, numerical_gradient, relative_error

from nnscratch.layers import Layer, Linear


def test_numerical_gradient_of_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: float((v**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-9)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="float32"):
        numerical_gradient(lambda v: 0.0, np.zeros(2, dtype=np.float32))


def test_relative_error_sees_one_wrong_element():
    good = np.linspace(-1, 1, 100)
    bad = good.copy()
    bad[17] += 1e-3
    assert relative_error(good, good) == 0.0
    assert relative_error(good, bad) == pytest.approx(1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


class WrongSquare(Layer):
    """x^2 with a backward pass that drops the factor 2 on one element."""

    def forward(self, x):
        self._cache = x
        return x * x

    def backward(self, dout):
        dx = 2 * self._pop_cache() * dout
        dx.reshape(-1)[0] /= 2
        return dx


def test_checker_rejects_wrong_input_gradient():
    with pytest.raises(AssertionError, match="gradient of 'x' has relative error"):
        check_layer_gradients(WrongSquare(), np.linspace(1, 2, 6).reshape(2, 3))


def test_checker_rejects_wrong_weight_gradient():
    linear = Linear(3, 2, dtype=np.float64)
    original = linear.backward

    def backward(dout):
        dx = original(dout)
        linear.grads["weight"] = linear.grads["weight"] * 1.001
        return dx

    linear.backward = backward
    with pytest.raises(AssertionError, match="gradient of 'weight'"):
        check_layer_gradients(linear, np.ones((2, 3)))


class Float32Identity(Layer):
    def forward(self, x):
        self._cache = True
        return x.astype(np.float32)

    def backward(self, dout):
        self._pop_cache()
        return dout


def test_checker_rejects_float32_output():
    # float32 rounding would swamp a central difference with eps = 1e-6.
    with pytest.raises(AssertionError, match="astype"):
        check_layer_gradients(Float32Identity(), np.ones((2, 3)))
