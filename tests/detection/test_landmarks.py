"""Landmark head and landmark loss."""

import numpy as np
import pytest

from gradcheck import check_layer_gradients, numerical_gradient, relative_error
from nnscratch.detection import LandmarkHead, landmark_loss
from nnscratch.layers import Linear


def test_landmark_head_output_is_points():
    head = LandmarkHead(6, 3, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    out = head.forward(x)
    assert out.shape == (4, 3, 2)
    assert head.output_shape((4, 6)) == (4, 3, 2)
    # Unit 2l is x of landmark l, unit 2l + 1 its y.
    flat = x @ head.params["weight"].T + head.params["bias"]
    np.testing.assert_allclose(out[:, 1, 0], flat[:, 2], rtol=1e-5)
    np.testing.assert_allclose(out[:, 1, 1], flat[:, 3], rtol=1e-5)


def test_landmark_head_state_matches_linear():
    head = LandmarkHead(5, 2)
    linear = Linear(5, 4)
    assert {k: v.shape for k, v in head.params.items()} == {
        k: v.shape for k, v in linear.params.items()}


def test_landmark_head_gradients_match_central_differences():
    head = LandmarkHead(5, 3, rng=np.random.default_rng(2)).astype(np.float64)
    x = np.random.default_rng(3).standard_normal((2, 5))
    check_layer_gradients(head, x)


def test_landmark_loss_hand_values():
    pred = np.array([[[0.5, 0.5], [0.2, 0.3]]])
    target = np.array([[[0.5, 0.7], [0.1, 0.3]]])
    loss, dpred = landmark_loss(pred, target)
    assert loss == pytest.approx(0.2**2 + 0.1**2)
    np.testing.assert_allclose(dpred, [[[0, -0.4], [0.2, 0]]])


def test_landmark_loss_skips_hidden_points():
    pred = np.zeros((1, 2, 2))
    target = np.ones((1, 2, 2))
    loss, dpred = landmark_loss(pred, target, visible=np.array([[True, False]]))
    assert loss == pytest.approx(2.0)
    np.testing.assert_array_equal(dpred[0, 1], [0, 0])


def test_landmark_loss_gradient_matches_central_differences():
    rng = np.random.default_rng(4)
    pred = rng.random((3, 4, 2))
    target = rng.random((3, 4, 2))
    visible = rng.random((3, 4)) < 0.7
    _, dpred = landmark_loss(pred, target, visible)
    numeric = numerical_gradient(lambda p: landmark_loss(p, target, visible)[0], pred)
    # Quadratic loss: central differences are exact up to rounding.
    assert relative_error(dpred, numeric) < 1e-7


def test_landmark_head_and_loss_train_end_to_end():
    head = LandmarkHead(4, 2, rng=np.random.default_rng(5)).astype(np.float64)
    x = np.random.default_rng(6).standard_normal((8, 4))
    target = np.random.default_rng(7).random((8, 2, 2))
    first = None
    for _ in range(200):
        loss, dpred = landmark_loss(head.forward(x), target)
        first = loss if first is None else first
        head.backward(dpred)
        for key in head.params:
            head.params[key] -= 0.05 * head.grads[key]
    assert loss < 0.5 * first


def test_landmark_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, L, 2\)"):
        landmark_loss(np.zeros((1, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="visible"):
        landmark_loss(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="num_landmarks"):
        LandmarkHead(4, 0)
