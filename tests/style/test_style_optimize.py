"""Pixel optimisation: both optimisers lower the cost and keep pixels in [0, 1]."""

import numpy as np
import pytest

from nnscratch.style import random_multiscale_network, style_transfer
from nnscratch.style.optimize import initial_image, to_nchw


def tiny_pair(size=16):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    content = np.stack([x, y, 0.5 * (x + y)], axis=-1).astype(np.float32)
    style = rng.uniform(0, 1, (size + 4, size + 4, 3)).astype(np.float32)
    return content, style


def tiny_network():
    return random_multiscale_network(widths=(6, 8), kernel_sizes=(3, 3), seed=2)


@pytest.mark.parametrize("method, steps", [("lbfgs", 25), ("adam", 40)])
def test_optimizer_lowers_total_cost(method, steps):
    content, style = tiny_pair()
    result = style_transfer(content, style, tiny_network(), beta=10.0, steps=steps,
                            method=method, lr=0.05)
    # The content and the style pull apart, so the cost has a floor well
    # above zero; half the start is reached in a few steps by both methods.
    assert result.history[-1]["total"] < 0.5 * result.history[0]["total"]
    assert result.cost_ratio > 2
    assert result.image.shape == (16, 16, 3)
    assert result.image.min() >= 0.0
    assert result.image.max() <= 1.0


def test_lbfgs_history_has_one_entry_per_step():
    content, style = tiny_pair()
    result = style_transfer(content, style, tiny_network(), steps=5)
    assert len(result.history) == 6
    assert result.evaluations >= 6
    assert set(result.history[0]) == {"content", "style", "total"}


def test_save_every_writes_intermediate_images(tmp_path):
    content, style = tiny_pair()
    style_transfer(content, style, tiny_network(), steps=4, method="adam",
                   save_every=2, save_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_0002.png",
                                                          "step_0004.png"]


def test_initial_image_content_and_noise():
    content = to_nchw(tiny_pair()[0])
    np.testing.assert_array_equal(initial_image(content, "content"), content)
    noise = initial_image(content, "noise", seed=1)
    assert noise.shape == content.shape
    assert 0 <= noise.min() and noise.max() <= 1
    np.testing.assert_array_equal(noise, initial_image(content, "noise", seed=1))


def test_style_transfer_rejects_bad_arguments():
    content, style = tiny_pair()
    with pytest.raises(ValueError, match="method"):
        style_transfer(content, style, tiny_network(), method="sgd")
    with pytest.raises(ValueError, match="steps"):
        style_transfer(content, style, tiny_network(), steps=0)
    with pytest.raises(ValueError, match="save_dir"):
        style_transfer(content, style, tiny_network(), save_every=1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        style_transfer(content[..., 0], style, tiny_network())
