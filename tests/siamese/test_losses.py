"""Triplet and logistic pair losses: values, edge cases and gradients."""

import numpy as np
import pytest
from gradcheck import numerical_gradient

from nnscratch.siamese.losses import logistic_pair_loss, triplet_loss


def triplets_away_from_kinks(rng, T=6, D=5, margin=0.5, squared=True):
    """Draw triplets whose losses are not near 0, where the max() has a kink."""
    while True:
        anchor, positive, negative = (rng.standard_normal((T, D)) for _ in range(3))
        if squared:
            gap = ((anchor - positive) ** 2).sum(1) - ((anchor - negative) ** 2).sum(1)
        else:
            gap = (np.linalg.norm(anchor - positive, axis=1)
                   - np.linalg.norm(anchor - negative, axis=1))
        losses = gap + margin
        if np.abs(losses).min() > 0.05 and (losses > 0).any() and (losses < 0).any():
            return anchor, positive, negative


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "mean_active", "sum"])
def test_triplet_gradients_match_numerical(squared, reduction):
    rng = np.random.default_rng(1)
    margin = 0.5
    arrays = triplets_away_from_kinks(rng, margin=margin, squared=squared)
    _, gradients = triplet_loss(*arrays, margin=margin, squared=squared,
                                reduction=reduction)

    def loss(_):
        return triplet_loss(*arrays, margin=margin, squared=squared,
                            reduction=reduction)[0]

    for array, gradient in zip(arrays, gradients):
        # Float64 central differences with step 1e-6 are accurate to ~1e-8 here.
        np.testing.assert_allclose(gradient, numerical_gradient(loss, array),
                                   atol=1e-7, rtol=1e-6)


def test_triplet_loss_non_negative():
    rng = np.random.default_rng(2)
    for _ in range(20):
        arrays = [rng.standard_normal((8, 4)) for _ in range(3)]
        loss, _ = triplet_loss(*arrays, margin=rng.uniform(0, 2))
        assert loss >= 0


def test_triplet_loss_zero_once_margin_met():
    anchor = np.array([[0.0, 0.0], [1.0, 1.0]])
    positive = anchor + 0.1
    # d(a, p) = 0.02 and d(a, n) = 0.72: the gap 0.70 exceeds the margin 0.5.
    negative = anchor + np.array([0.6, 0.6])
    loss, gradients = triplet_loss(anchor, positive, negative, margin=0.5)
    assert loss == 0
    for gradient in gradients:
        assert not gradient.any()


def test_triplet_loss_at_margin_boundary_is_zero():
    anchor = np.zeros((1, 1))
    positive = np.array([[1.0]])
    negative = np.array([[2.0]])
    # d(a, n) - d(a, p) = 4 - 1 = 3 = margin exactly.
    loss, gradients = triplet_loss(anchor, positive, negative, margin=3.0)
    assert loss == 0
    assert not gradients[0].any()


@pytest.mark.parametrize("reduction", ["mean", "mean_active"])
def test_trivial_encoding_gives_margin(reduction):
    zeros = np.zeros((5, 8))
    loss, _ = triplet_loss(zeros, zeros, zeros, margin=0.3, reduction=reduction)
    assert loss == pytest.approx(0.3)


def test_trivial_encoding_sum_gives_count_times_margin():
    zeros = np.zeros((5, 8))
    loss, _ = triplet_loss(zeros, zeros, zeros, margin=0.3, reduction="sum")
    assert loss == pytest.approx(1.5)


def test_mean_active_without_active_is_zero():
    anchor = np.zeros((3, 2))
    negative = np.full((3, 2), 5.0)
    loss, gradients = triplet_loss(anchor, anchor.copy(), negative, margin=0.2,
                                   reduction="mean_active")
    assert loss == 0
    assert not np.isnan(loss)
    for gradient in gradients:
        assert np.isfinite(gradient).all()
        assert not gradient.any()


def test_mean_active_divides_by_active_count():
    anchor = np.zeros((2, 1))
    positive = np.array([[1.0], [0.0]])
    negative = np.array([[1.0], [10.0]])
    # Only the first triplet is active, with loss 1 - 1 + 0.5 = 0.5.
    loss_active, _ = triplet_loss(anchor, positive, negative, margin=0.5,
                                  reduction="mean_active")
    loss_mean, _ = triplet_loss(anchor, positive, negative, margin=0.5)
    assert loss_active == pytest.approx(0.5)
    assert loss_mean == pytest.approx(0.25)


def test_non_squared_gradient_finite_at_zero_distance():
    anchor = np.array([[0.3, -0.2]])
    negative = np.array([[0.3, -0.1]])
    loss, gradients = triplet_loss(anchor, anchor.copy(), negative, margin=1.0,
                                   squared=False)
    assert loss == pytest.approx(1.0 - 0.1)
    for gradient in gradients:
        assert np.isfinite(gradient).all()
    # With d(a, p) = 0 only the negative term moves the anchor: -(a - n)/|a - n|.
    np.testing.assert_allclose(gradients[0], [[0.0, 1.0]])


def test_triplet_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="positive"):
        triplet_loss(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((2, 3)))


def test_triplet_loss_rejects_unknown_reduction():
    zeros = np.zeros((1, 2))
    with pytest.raises(ValueError, match="reduction"):
        triplet_loss(zeros, zeros, zeros, reduction="max")


def pairs_away_from_zero(rng, N=6, D=4):
    x1 = rng.standard_normal((N, D))
    offset = rng.uniform(0.2, 1.0, (N, D)) * rng.choice([-1, 1], (N, D))
    return x1, x1 + offset


def test_logistic_pair_gradients_match_numerical():
    rng = np.random.default_rng(3)
    x1, x2 = pairs_away_from_zero(rng)
    same = np.array([1, 0, 1, 1, 0, 0])
    weight = rng.standard_normal((1, 4))
    bias = np.array([0.3])
    _, gradients = logistic_pair_loss(x1, x2, same, weight, bias)

    def loss(_):
        return logistic_pair_loss(x1, x2, same, weight, bias)[0]

    for array, gradient in zip((x1, x2, weight, bias), gradients):
        # |u| is smooth away from u = 0, which pairs_away_from_zero guarantees.
        np.testing.assert_allclose(gradient, numerical_gradient(loss, array),
                                   atol=1e-8, rtol=1e-6)


def test_logistic_pair_loss_matches_definition():
    rng = np.random.default_rng(4)
    x1, x2 = pairs_away_from_zero(rng, N=5, D=3)
    same = np.array([1, 0, 0, 1, 1])
    weight = rng.standard_normal((1, 3))
    bias = np.array([-0.2])
    loss, _ = logistic_pair_loss(x1, x2, same, weight, bias)
    yhat = 1 / (1 + np.exp(-(np.abs(x1 - x2) @ weight[0] + bias[0])))
    expected = -np.mean(same * np.log(yhat) + (1 - same) * np.log(1 - yhat))
    assert loss == pytest.approx(expected, rel=1e-12)
    assert loss >= 0


def test_logistic_pair_loss_rejects_bad_weight_shape():
    zeros = np.zeros((2, 3))
    with pytest.raises(ValueError, match="weight"):
        logistic_pair_loss(zeros, zeros, np.array([0, 1]), np.zeros(3), np.zeros(1))


def test_triplet_gradients_match_torch(torch):
    rng = np.random.default_rng(5)
    arrays = triplets_away_from_kinks(rng, margin=0.5)
    loss, gradients = triplet_loss(*arrays, margin=0.5)

    tensors = [torch.tensor(array, requires_grad=True) for array in arrays]
    anchor, positive, negative = tensors
    reference = torch.relu(((anchor - positive) ** 2).sum(1)
                           - ((anchor - negative) ** 2).sum(1) + 0.5).mean()
    reference.backward()
    assert loss == pytest.approx(reference.item(), rel=1e-12)
    for tensor, gradient in zip(tensors, gradients):
        np.testing.assert_allclose(gradient, tensor.grad.numpy(), rtol=1e-12,
                                   atol=1e-15)
