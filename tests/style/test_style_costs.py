"""Gram matrix, content and style costs, and their gradients."""

import numpy as np
import pytest
from gradcheck import numerical_gradient, relative_error

from nnscratch.style import (
    StyleTransferCost,
    content_cost,
    gram_matrix,
    position_mean_gram,
    random_multiscale_network,
    style_cost,
)


def gram_loop(a):
    """Gram matrix of NCHW activations by explicit loops over every index."""
    N, C, H, W = a.shape
    gram = np.zeros((N, C, C))
    for n in range(N):
        for k in range(C):
            for k2 in range(C):
                for i in range(H):
                    for j in range(W):
                        gram[n, k, k2] += a[n, k, i, j] * a[n, k2, i, j]
    return gram


def activations(shape, seed=0):
    """Distinct-valued float64 activations, so no two entries tie."""
    return np.random.default_rng(seed).standard_normal(shape)


def tiny_network(dtype=np.float64):
    return random_multiscale_network(widths=(3, 4, 5), kernel_sizes=(3, 3, 3),
                                     seed=1, dtype=dtype)


def tiny_images(seed=0, size=8):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 0.9, (1, 3, size, size)) for _ in range(3)]


def test_gram_matrix_equals_loop_reference():
    a = activations((2, 3, 4, 5))
    np.testing.assert_allclose(gram_matrix(a), gram_loop(a), rtol=1e-12)


def test_gram_matrix_nhwc_layout_is_transposed_first():
    a = activations((2, 3, 4, 5))
    channels_last = np.ascontiguousarray(a.transpose(0, 2, 3, 1))  # (N, H, W, C)
    np.testing.assert_allclose(gram_matrix(channels_last, layout="NHWC"),
                               gram_loop(a), rtol=1e-12)


def test_gram_matrix_layout_trap_gives_another_matrix():
    # Reshaping (N, H, W, C) straight to (N, C, H * W) mixes positions with
    # channels; the result is still symmetric but is not the Gram matrix.
    # H = C = 3, so reading the NHWC array as NCHW also gives a 3x3 matrix.
    a = activations((1, 3, 3, 4))
    channels_last = np.ascontiguousarray(a.transpose(0, 2, 3, 1))  # (1, 3, 4, 3)
    wrong = channels_last.reshape(1, 3, 12)
    wrong_gram = wrong @ wrong.transpose(0, 2, 1)
    assert not np.allclose(wrong_gram, gram_loop(a))
    assert not np.allclose(gram_matrix(channels_last), gram_loop(a))


def test_gram_matrix_rejects_unknown_layout():
    with pytest.raises(ValueError, match="layout"):
        gram_matrix(activations((1, 2, 3, 3)), layout="CHW")


def test_position_mean_gram_divides_by_positions():
    a = activations((1, 3, 4, 5))
    np.testing.assert_allclose(position_mean_gram(a), gram_loop(a) / 20, rtol=1e-12)


def test_content_cost_value_matches_formula():
    a_generated, a_content = activations((1, 2, 3, 4), 0), activations((1, 2, 3, 4), 1)
    cost, _ = content_cost(a_generated, a_content)
    expected = np.sum((a_generated - a_content) ** 2) / (4 * 2 * 3 * 4)
    assert cost == pytest.approx(expected, rel=1e-12)


def test_content_cost_zero_for_identical_activations():
    a = activations((1, 4, 3, 3))
    cost, da = content_cost(a, a.copy())
    assert cost == 0.0
    assert not da.any()


def test_content_cost_gradient_matches_numerical():
    a_generated, a_content = activations((1, 2, 3, 4), 0), activations((1, 2, 3, 4), 1)
    _, da = content_cost(a_generated, a_content)
    numeric = numerical_gradient(lambda a: content_cost(a, a_content)[0], a_generated)
    # Float64 central differences of a quadratic are exact up to rounding.
    assert relative_error(da, numeric) < 1e-8


def test_style_cost_value_matches_formula():
    a, a_style = activations((1, 3, 4, 4), 0), activations((1, 3, 6, 5), 1)
    cost, _ = style_cost(a, position_mean_gram(a_style))
    difference = gram_loop(a)[0] / 16 - gram_loop(a_style)[0] / 30
    assert cost == pytest.approx(np.sum(difference**2) / (4 * 3 * 3), rel=1e-12)


def test_style_cost_zero_when_positions_are_shuffled():
    # The Gram matrix sums over positions, so any permutation of them keeps it.
    a = activations((1, 3, 4, 5))
    order = np.random.default_rng(2).permutation(20)
    shuffled = a.reshape(1, 3, 20)[:, :, order].reshape(1, 3, 4, 5)
    assert not np.allclose(shuffled, a)
    cost, da = style_cost(a, position_mean_gram(shuffled))
    assert cost < 1e-28
    assert np.abs(da).max() < 1e-14


def test_style_cost_zero_for_tiled_style_of_another_size():
    # Dividing each Gram matrix by its own number of positions makes a 2x2
    # tiling of the activations (four times the positions) match the tile.
    a = activations((1, 3, 4, 5))
    tiled = np.tile(a, (1, 1, 2, 2))  # (1, 3, 8, 10)
    cost, _ = style_cost(a, position_mean_gram(tiled))
    assert cost < 1e-28


def test_style_cost_gradient_matches_numerical():
    a, a_style = activations((1, 3, 4, 4), 0), activations((1, 3, 5, 5), 1)
    target = position_mean_gram(a_style)
    _, da = style_cost(a, target)
    numeric = numerical_gradient(lambda x: style_cost(x, target)[0], a)
    # A quartic in a: eps = 1e-6 leaves a truncation error near 1e-12.
    assert relative_error(da, numeric) < 1e-7


def test_costs_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="a_content"):
        content_cost(activations((1, 2, 3, 3)), activations((1, 2, 4, 3)))
    with pytest.raises(ValueError, match="style_gram"):
        style_cost(activations((1, 2, 3, 3)), np.zeros((3, 3)))


@pytest.mark.parametrize("term", ["content", "style", "both"])
def test_image_gradient_matches_numerical(term):
    network = tiny_network()
    generated, content, style = tiny_images()
    layers = {
        "content": ({"relu2": 1.0}, {}),
        "style": ({}, {"relu1": 0.5, "relu2": 0.3, "relu3": 0.2}),
        "both": ({"relu1": 0.7, "relu3": 0.3}, {"relu1": 0.5, "relu3": 0.5}),
    }[term]
    cost = StyleTransferCost(network, content, style, alpha=2.0, beta=30.0,
                             content_layers=layers[0], style_layers=layers[1])
    terms, dimage = cost(generated)
    assert terms["total"] > 0
    assert dimage.dtype == np.float64

    numeric = numerical_gradient(lambda x: cost(x)[0]["total"], generated)
    # Float64 throughout; a ReLU kink crossed by the +-1e-6 step would show
    # as an error near 1e-2, far above this bound.
    assert relative_error(dimage, numeric) < 1e-6


def test_image_gradient_matches_torch(torch):
    network = tiny_network()
    generated, content, style = tiny_images(seed=3, size=12)
    cost = StyleTransferCost(network, content, style, alpha=1.5, beta=20.0,
                             content_layers={"relu2": 1.0},
                             style_layers={"relu1": 0.5, "relu3": 0.5})
    terms, dimage = cost(generated)

    def features(image):
        x = (image - 0.5) / 0.25
        outputs = {}
        for name, layer in zip(network.layer_names, network.model.layers):
            if name.startswith("conv"):
                x = torch.nn.functional.conv2d(
                    x, torch.from_numpy(layer.params["weight"]),
                    torch.from_numpy(layer.params["bias"]), padding=1)
            elif name.startswith("relu"):
                x = torch.relu(x)
            else:
                x = torch.nn.functional.avg_pool2d(x, 2)
            outputs[name] = x
        return outputs

    def gram(a):
        A = a.reshape(a.shape[1], -1)  # (C, M)
        return A @ A.T / A.shape[1]

    g = torch.tensor(generated, requires_grad=True)
    ag, ac, as_ = features(g), features(torch.tensor(content)), features(torch.tensor(style))
    a2 = ag["relu2"]
    content_term = 1.5 * ((a2 - ac["relu2"]) ** 2).sum() / (4 * a2.numel())
    style_term = 0
    for name in ("relu1", "relu3"):
        C = ag[name].shape[1]
        difference = gram(ag[name]) - gram(as_[name])
        style_term = style_term + 20.0 * 0.5 * (difference**2).sum() / (4 * C * C)
    (content_term + style_term).backward()

    assert terms["content"] == pytest.approx(content_term.item(), rel=1e-10)
    assert terms["style"] == pytest.approx(style_term.item(), rel=1e-10)
    np.testing.assert_allclose(dimage, g.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_cost_is_zero_when_image_is_content_and_style():
    network = tiny_network()
    image = tiny_images()[0]
    cost = StyleTransferCost(network, image, image.copy(), alpha=1.0, beta=5.0)
    terms, dimage = cost(image)
    assert terms["total"] == 0.0
    assert not dimage.any()


def test_cost_rejects_negative_weights():
    network = tiny_network()
    image = tiny_images()[0]
    with pytest.raises(ValueError, match="alpha"):
        StyleTransferCost(network, image, image, alpha=-1.0, beta=1.0)
