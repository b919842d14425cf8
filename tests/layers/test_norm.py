"""BatchNorm2d: gradients in both modes, running statistics, PyTorch agreement."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients
from hypothesis import given
from hypothesis import strategies as st
from strategies import normal_array, seeds

from nnscratch.layers import BatchNorm2d

# N * H * W >= 4 values per channel: with only two, the batch variance of
# standard normal draws is sometimes tiny, and 1 / sqrt(var + eps) then
# amplifies the central-difference error past the tolerance.
bn_shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
                      st.integers(2, 4)).filter(lambda s: s[0] * s[2] * s[3] >= 4)


def make_batchnorm(channels, seed):
    """Return a float64 BatchNorm2d with random scale, shift and running stats."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm2d(channels, dtype=np.float64)
    bn.params["weight"] = rng.uniform(0.5, 2.0, channels)
    bn.params["bias"] = rng.standard_normal(channels)
    bn.buffers["running_mean"] = rng.standard_normal(channels)
    bn.buffers["running_var"] = rng.uniform(0.5, 2.0, channels)
    return bn


@given(shape=bn_shapes, seed=seeds)
def test_batchnorm_train_gradients_match_central_differences(shape, seed):
    bn = make_batchnorm(shape[1], seed)
    check_layer_gradients(bn, 2 * normal_array(seed, shape) + 1, seed=seed)


@given(shape=bn_shapes, seed=seeds)
def test_batchnorm_eval_gradients_match_central_differences(shape, seed):
    bn = make_batchnorm(shape[1], seed).eval()
    check_layer_gradients(bn, normal_array(seed, shape), seed=seed)


@given(shape=bn_shapes, seed=seeds)
def test_batchnorm_train_output_is_normalised(shape, seed):
    bn = BatchNorm2d(shape[1], dtype=np.float64)
    out = bn.forward(3 * normal_array(seed, shape) - 2)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    m = shape[0] * shape[2] * shape[3]
    variance = out.var(axis=(0, 2, 3))
    # var(x_hat) = var / (var + eps), which is below 1 by about eps / var.
    assert np.all(variance <= 1)
    assert np.all(variance > 1 - 1e-3), (m, variance)


def test_batchnorm_running_statistics_by_hand():
    x = np.arange(2 * 2 * 2 * 3, dtype=np.float64).reshape(2, 2, 2, 3) ** 1.5
    bn = BatchNorm2d(2, momentum=0.25, dtype=np.float64)
    bn.forward(x)
    values = x.transpose(1, 0, 2, 3).reshape(2, -1)  # (C, N*H*W)
    mean = values.mean(axis=1)
    unbiased = values.var(axis=1, ddof=1)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.25 * mean, rtol=1e-14)
    np.testing.assert_allclose(bn.buffers["running_var"], 0.75 + 0.25 * unbiased,
                               rtol=1e-14)

    bn.eval()
    out = bn.forward(x)
    expected = ((x - bn.buffers["running_mean"].reshape(1, 2, 1, 1))
                / np.sqrt(bn.buffers["running_var"].reshape(1, 2, 1, 1) + bn.eps))
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    running = bn.buffers["running_mean"].copy()
    bn.forward(x + 100)
    np.testing.assert_array_equal(bn.buffers["running_mean"], running)


def test_batchnorm_float32_keeps_dtype_everywhere():
    bn = BatchNorm2d(3)
    x = normal_array(0, (4, 3, 2, 2), dtype=np.float32)
    out = bn.forward(x)
    dx = bn.backward(np.ones_like(out))
    assert out.dtype == np.float32
    assert dx.dtype == np.float32
    for key in ("weight", "bias"):
        assert bn.grads[key].dtype == np.float32
    for key in ("running_mean", "running_var"):
        assert bn.buffers[key].dtype == np.float32


def test_batchnorm_train_mode_rejects_one_value_per_channel():
    with pytest.raises(ValueError, match=r"\(1, 2, 1, 1\)"):
        BatchNorm2d(2).forward(np.ones((1, 2, 1, 1), dtype=np.float32))
    out = BatchNorm2d(2).eval().forward(np.ones((1, 2, 1, 1), dtype=np.float32))
    assert out.shape == (1, 2, 1, 1)


@given(shape=bn_shapes, seed=seeds, momentum=st.sampled_from([0.1, 0.5]))
def test_batchnorm_matches_torch(torch, shape, seed, momentum):
    C = shape[1]
    ours = make_batchnorm(C, seed)
    ours.momentum = momentum
    theirs = torch.nn.BatchNorm2d(C, momentum=momentum).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.params["weight"]))
        theirs.bias.copy_(torch.tensor(ours.params["bias"]))
        theirs.running_mean.copy_(torch.tensor(ours.buffers["running_mean"]))
        theirs.running_var.copy_(torch.tensor(ours.buffers["running_var"]))

    # Three training steps, then one evaluation pass.
    for step in range(3):
        x = normal_array(seed + step, shape) * (step + 1)
        dout = normal_array(seed + 10 + step, shape)
        out = ours.forward(x)
        dx = ours.backward(dout)
        x_t = torch.tensor(x, requires_grad=True)
        theirs.zero_grad()
        out_t = theirs(x_t)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy(),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.grads["bias"], theirs.bias.grad.numpy(),
                                   rtol=1e-10, atol=1e-12)
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(ours.buffers[key],
                                       getattr(theirs, key).numpy(), rtol=1e-12)

    ours.eval()
    theirs.eval()
    x = normal_array(seed + 99, shape)
    dout = normal_array(seed + 98, shape)
    out = ours.forward(x)
    dx = ours.backward(dout)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, x_t.grad.numpy(), rtol=1e-12, atol=1e-13)
