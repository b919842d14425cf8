"""Losses: gradients, PyTorch agreement, stability for huge logits, bad input."""

import numpy as np
import pytest
from gradcheck import numerical_gradient, relative_error
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.losses import (
    binary_cross_entropy_with_logits,
    log_softmax,
    mse,
    softmax,
    softmax_cross_entropy,
)

logit_shapes = st.sampled_from([(1, 2), (4, 3), (3, 10), (2, 3, 2, 2), (1, 4, 1, 3)])


def class_targets(seed, logits_shape):
    rng = np.random.default_rng([seed, 2])
    shape = (logits_shape[0], *logits_shape[2:])
    return rng.integers(0, logits_shape[1], size=shape)


def assert_gradient_matches(loss_fn, x, target):
    """Check the returned gradient against central differences (float64)."""
    _, analytic = loss_fn(x, target)
    numeric = numerical_gradient(lambda value: loss_fn(value, target)[0], x.copy())
    # A loss is exact to about 1e-16 absolute, so the central difference is off
    # by about 1e-16 / eps = 1e-10 absolute. A saturated softmax has gradients
    # near 1e-7, which are therefore compared at the scale 1e-3 instead.
    error = relative_error(analytic, numeric, floor=1e-3)
    assert error < 1e-6, f"relative error {error:.2e}"


@given(shape=logit_shapes, seed=seeds, scale=st.sampled_from([1.0, 10.0]))
def test_cross_entropy_gradient_matches_central_differences(shape, seed, scale):
    logits = scale * normal_array(seed, shape)
    assert_gradient_matches(softmax_cross_entropy, logits, class_targets(seed, shape))


@given(shape=logit_shapes, seed=seeds)
def test_binary_cross_entropy_gradient_matches_central_differences(shape, seed):
    logits = 3 * normal_array(seed, shape)
    target = np.random.default_rng([seed, 2]).random(shape)
    assert_gradient_matches(binary_cross_entropy_with_logits, logits, target)


@given(shape=logit_shapes, seed=seeds)
def test_mse_gradient_matches_central_differences(shape, seed):
    assert_gradient_matches(mse, normal_array(seed, shape),
                            normal_array(seed + 1, shape))


@given(shape=logit_shapes, seed=seeds, scale=st.sampled_from([1.0, 30.0]))
def test_cross_entropy_matches_torch(torch, shape, seed, scale):
    logits = scale * normal_array(seed, shape)
    target = class_targets(seed, shape)
    loss, dlogits = softmax_cross_entropy(logits, target)

    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.tensor(target))
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dlogits, logits_t.grad.numpy(), rtol=1e-10,
                               atol=1e-15)


@given(shape=logit_shapes, seed=seeds, scale=st.sampled_from([1.0, 50.0]))
def test_binary_cross_entropy_matches_torch(torch, shape, seed, scale):
    logits = scale * normal_array(seed, shape)
    target = np.random.default_rng([seed, 2]).random(shape)
    loss, dlogits = binary_cross_entropy_with_logits(logits, target)

    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.binary_cross_entropy_with_logits(
        logits_t, torch.tensor(target))
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dlogits, logits_t.grad.numpy(), rtol=1e-10,
                               atol=1e-15)


@given(shape=logit_shapes, seed=seeds)
def test_mse_matches_torch(torch, shape, seed):
    pred = normal_array(seed, shape)
    target = normal_array(seed + 1, shape)
    loss, dpred = mse(pred, target)
    pred_t = torch.tensor(pred, requires_grad=True)
    loss_t = torch.nn.functional.mse_loss(pred_t, torch.tensor(target))
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(dpred, pred_t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([[1000.0, 0.0, -1000.0],
                       [0.0, 1e4, 0.0],
                       [3e4, 3e4, -3e4]], dtype=dtype)
    target = np.array([0, 0, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = softmax_cross_entropy(logits, target)
    # Row losses: 0, 1e4 and log 2 (two equal largest logits).
    np.testing.assert_allclose(loss, (0 + 1e4 + np.log(2)) / 3, rtol=1e-6)
    assert np.all(np.isfinite(dlogits))
    assert dlogits.dtype == dtype
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([1000.0, -1000.0, 1e4, -1e4], dtype=dtype)
    target = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise"):
        loss, dlogits = binary_cross_entropy_with_logits(logits, target)
    # Correct and confident: 0; wrong by 1e4: 1e4 each.
    np.testing.assert_allclose(loss, (0 + 0 + 1e4 + 1e4) / 4, rtol=1e-6)
    np.testing.assert_allclose(dlogits, np.array([0, 0, 1, -1]) / 4, atol=1e-7)
    assert dlogits.dtype == dtype


def test_cross_entropy_of_uniform_logits_is_log_classes():
    loss, dlogits = softmax_cross_entropy(np.zeros((5, 7)), np.arange(5))
    np.testing.assert_allclose(loss, np.log(7), rtol=1e-15)
    expected = np.full((5, 7), 1 / 7)
    expected[np.arange(5), np.arange(5)] -= 1
    np.testing.assert_allclose(dlogits, expected / 5, rtol=1e-14)


def test_log_softmax_and_softmax_are_normalised():
    logits = 100 * normal_array(0, (4, 6))
    np.testing.assert_allclose(softmax(logits).sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_allclose(np.exp(log_softmax(logits)).sum(axis=1), 1,
                               rtol=1e-14)


def test_cross_entropy_rejects_float_targets():
    with pytest.raises(TypeError, match="float64"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_cross_entropy_rejects_wrong_target_shape():
    with pytest.raises(ValueError, match=r"shape \(2,\) for logits of shape "
                                         r"\(2, 3\), got \(2, 1\)"):
        softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 1), dtype=int))


@pytest.mark.parametrize("bad", [-1, 3])
def test_cross_entropy_rejects_out_of_range_class(bad):
    with pytest.raises(ValueError, match=rf"\[0, 3\), got min {min(bad, 0)}"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, bad]))


def test_cross_entropy_rejects_integer_logits():
    with pytest.raises(TypeError, match="logits must be a float32 or float64"):
        softmax_cross_entropy(np.zeros((2, 3), dtype=int), np.array([0, 1]))


def test_binary_cross_entropy_rejects_targets_outside_unit_interval():
    with pytest.raises(ValueError, match="got min -0.5"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([-0.5, 1.0]))


def test_binary_cross_entropy_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"target shape \(3,\) differs"):
        binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3))


def test_mse_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"target shape \(2, 1\) differs from pred "
                                         r"shape \(2,\)"):
        mse(np.zeros(2), np.zeros((2, 1)))


def test_mse_rejects_list_prediction():
    with pytest.raises(TypeError, match="pred must be a float32 or float64"):
        mse([1.0, 2.0], np.zeros(2))


@pytest.mark.parametrize("loss_fn, target", [
    (softmax_cross_entropy, np.zeros(0, dtype=np.int64)),
    (binary_cross_entropy_with_logits, np.zeros((0, 3))),
    (mse, np.zeros((0, 3))),
])
def test_empty_batch_gives_zero_loss_and_empty_gradient(loss_fn, target):
    loss, gradient = loss_fn(np.zeros((0, 3)), target)
    assert loss == 0.0
    assert gradient.shape == (0, 3)
