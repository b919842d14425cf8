"""Classification with localisation: target vector and squared-error loss."""

import numpy as np
import pytest

from gradcheck import numerical_gradient, relative_error
from nnscratch.detection import localization_loss, localization_target


def test_localization_target_layout():
    target = localization_target((0.5, 0.7, 0.3, 0.4), 1, 3)
    np.testing.assert_array_equal(target, [1, 0.5, 0.7, 0.3, 0.4, 0, 1, 0])
    np.testing.assert_array_equal(localization_target(None, None, 3), np.zeros(8))


def test_localization_target_rejects_bad_label():
    with pytest.raises(ValueError, match="label"):
        localization_target((0.5, 0.5, 0.1, 0.1), 3, 3)
    with pytest.raises(ValueError, match="box_cxcyhw"):
        localization_target((0.5, 0.5, 0.1), 0, 3)


def test_localization_loss_hand_values():
    target = np.array([localization_target((0.5, 0.5, 0.2, 0.4), 0, 3),
                       localization_target(None, None, 3)])
    pred = target.copy()
    pred[0] += 0.1  # every component off by 0.1: 8 * 0.01
    pred[1] += 0.5  # background: only pc counts, 0.25
    loss, dpred = localization_loss(pred, target)
    assert loss == pytest.approx((8 * 0.01 + 0.25) / 2)
    np.testing.assert_allclose(dpred[0], np.full(8, 2 * 0.1 / 2))
    np.testing.assert_allclose(dpred[1], [0.5] + [0] * 7)


def test_localization_loss_ignores_box_of_background():
    target = np.zeros((1, 8))
    pred = np.random.default_rng(0).standard_normal((1, 8))
    loss, _ = localization_loss(pred, target)
    pred[0, 1:] += 3.0
    assert localization_loss(pred, target)[0] == loss


def test_localization_loss_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    target = np.array([localization_target(rng.random(4), 2, 4),
                       localization_target(None, None, 4),
                       localization_target(rng.random(4), 0, 4)])
    pred = rng.standard_normal(target.shape)
    _, dpred = localization_loss(pred, target)
    numeric = numerical_gradient(lambda p: localization_loss(p, target)[0], pred)
    # Quadratic loss: central differences are exact up to rounding.
    assert relative_error(dpred, numeric) < 1e-7


def test_localization_loss_keeps_float32():
    target = np.zeros((2, 7), dtype=np.float32)
    _, dpred = localization_loss(np.ones((2, 7), np.float32), target)
    assert dpred.dtype == np.float32


def test_localization_loss_rejects_bad_pc():
    target = np.zeros((1, 7))
    target[0, 0] = 0.5
    with pytest.raises(ValueError, match="pc"):
        localization_loss(np.zeros((1, 7)), target)
    with pytest.raises(ValueError, match="shape"):
        localization_loss(np.zeros((1, 7)), np.zeros((1, 8)))
