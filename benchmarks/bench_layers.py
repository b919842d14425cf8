"""Layers against PyTorch: Conv2d, MaxPool2d, BatchNorm2d and the losses.

Conv2d runs on the course's four shapes, forward alone (eval mode, no
gradient) and forward plus backward (train mode, with the input's gradient
computed too). Forward plus backward counts three times the forward FLOPs:
the forward product, the weight gradient and the input gradient.

The "3x3 conv stack" is two convolutions, 3 -> 16 -> 32 channels, 3 x 3 with
padding 1 and no activation between them, so that every FLOP is a
convolution's.
"""

import numpy as np

from benchmarks.harness import Case, assert_close, import_torch, torch_name
from nnscratch import init
from nnscratch.layers import BatchNorm2d, Conv2d, MaxPool2d
from nnscratch.losses import (
    binary_cross_entropy_with_logits,
    mse,
    softmax_cross_entropy,
)
from nnscratch.model import Sequential

GROUP = "layers"
CONV_TARGET_RATIO = 1.5
CONV_TARGET_CEILING = 0.5


def conv_shapes(quick):
    """Return (name, batch, channels, size, build, large) for each course shape.

    ``build()`` returns a fresh network; ``large`` marks the two shapes held to
    the ceiling target.
    """
    def single(c_in, c_out, kernel, padding):
        return lambda: Sequential(Conv2d(c_in, c_out, kernel, padding=padding))

    def stack():
        return Sequential(Conv2d(3, 16, 3, padding=1), Conv2d(16, 32, 3, padding=1))

    if quick:
        return [
            ("conv 3->16 5x5 pad 2", 2, 3, 20, single(3, 16, 5, 2), True),
            ("conv 16->32 5x5 pad 2", 2, 16, 10, single(16, 32, 5, 2), True),
            ("conv 3->16 5x5", 4, 3, 14, single(3, 16, 5, 0), False),
            ("conv stack 3->16->32 3x3 pad 1", 2, 3, 12, stack, False),
        ]
    return [
        ("conv 3->16 5x5 pad 2", 32, 3, 224, single(3, 16, 5, 2), True),
        ("conv 16->32 5x5 pad 2", 32, 16, 112, single(16, 32, 5, 2), True),
        ("conv 3->16 5x5", 64, 3, 14, single(3, 16, 5, 0), False),
        ("conv stack 3->16->32 3x3 pad 1", 16, 3, 160, stack, False),
    ]


def _random(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def network_case(name, model, x, backward, flops, **targets):
    """Return a Case timing ``model`` against its PyTorch twin on ``x``.

    With ``backward`` the model runs in train mode, and each call is one
    forward and one backward pass with a fixed upstream gradient. The check
    then compares the output, the input gradient and every parameter
    gradient. Without it the model runs in eval mode and only the output is
    compared.
    """
    model.train(backward)
    out_shape = model.output_shape(x.shape)
    dout = _random(out_shape, seed=1)

    def ours():
        out = model.forward(x)
        if not backward:
            return out, None, {}
        dx = model.backward(dout)
        grads = {p.name: p.grad for p in model.parameters()}
        return out, dx, grads

    torch = import_torch()
    reference = None
    if torch is not None:
        from benchmarks.torch_twins import torch_grads, torch_twin

        twin = torch_twin(model)
        dout_t = torch.from_numpy(dout)

        def reference():
            if not backward:
                with torch.no_grad():
                    return twin(torch.from_numpy(x)).numpy(), None, {}
            twin.zero_grad(set_to_none=True)
            x_t = torch.from_numpy(x).requires_grad_(True)
            out = twin(x_t)
            out.backward(dout_t)
            return out.detach().numpy(), x_t.grad.numpy(), torch_grads(twin)

    def check(ours_result, reference_result):
        (out, dx, grads), (out_t, dx_t, grads_t) = ours_result, reference_result
        assert_close(out, out_t, 1e-4, f"{name}: output")
        if backward:
            assert_close(dx, dx_t, 1e-4, f"{name}: input gradient")
            assert sorted(grads) == sorted(grads_t), (sorted(grads), sorted(grads_t))
            for key, grad in grads.items():
                assert_close(grad, grads_t[key], 1e-4, f"{name}: gradient {key}")

    return Case(GROUP, name, ours, reference, torch_name(), check=check,
                flops=flops, **targets)


def _conv_cases(quick):
    for name, batch, channels, size, build, large in conv_shapes(quick):
        init.manual_seed(0)
        model = build()
        x = _random((batch, channels, size, size), seed=0)
        flops = model.flops(x.shape)
        label = f"{name}, {batch}x{channels}x{size}x{size}"
        yield network_case(f"{label} forward", model, x, False, flops)
        ceiling = {"target_ceiling": CONV_TARGET_CEILING} if large else {}
        yield network_case(f"{label} fwd+bwd", model, x, True, 3 * flops,
                           target_ratio=CONV_TARGET_RATIO, **ceiling)


def _other_layer_cases(quick):
    pool_shape = (2, 4, 16, 16) if quick else (32, 16, 224, 224)
    x = _random(pool_shape, seed=2)
    label = "x".join(map(str, pool_shape))
    for backward in (False, True):
        model = Sequential(MaxPool2d(2))
        suffix = "fwd+bwd" if backward else "forward"
        yield network_case(f"maxpool 2x2, {label} {suffix}", model, x, backward,
                           None)

    norm_shape = (2, 4, 8, 8) if quick else (32, 16, 112, 112)
    x = _random(norm_shape, seed=3)
    label = "x".join(map(str, norm_shape))
    model = Sequential(BatchNorm2d(norm_shape[1]))
    yield network_case(f"batchnorm train, {label} fwd+bwd", model, x, True, None)


def _loss_cases(quick):
    torch = import_torch()
    N, K = (8, 10) if quick else (1024, 1000)
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((N, K), dtype=np.float32) * 3
    labels = rng.integers(0, K, N)
    targets = (rng.random((N, K)) < 0.1).astype(np.float32)
    values = rng.standard_normal((N, K), dtype=np.float32)

    losses = [
        ("softmax cross-entropy", lambda: softmax_cross_entropy(logits, labels),
         "cross_entropy", labels),
        ("BCE with logits", lambda: binary_cross_entropy_with_logits(logits, targets),
         "binary_cross_entropy_with_logits", targets),
        ("mse", lambda: mse(logits, values), "mse_loss", values),
    ]
    for name, ours, torch_function, target in losses:
        reference = None
        if torch is not None:
            reference = _torch_loss(torch, torch_function, logits, target)
        yield Case(GROUP, f"{name} {N}x{K} loss+grad", ours, reference,
                   torch_name(), check=_check_loss)


def _torch_loss(torch, function_name, logits, target):
    function = getattr(torch.nn.functional, function_name)
    target_t = torch.from_numpy(target)

    def reference():
        logits_t = torch.from_numpy(logits).requires_grad_(True)
        loss = function(logits_t, target_t)
        loss.backward()
        return loss.item(), logits_t.grad.numpy()

    return reference


def _check_loss(ours, reference):
    assert np.isclose(ours[0], reference[0], rtol=1e-5), (ours[0], reference[0])
    assert_close(ours[1], reference[1], 1e-5, "loss gradient")


def cases(quick=False):
    """Yield the layer cases, on tiny shapes when ``quick`` is set."""
    yield from _conv_cases(quick)
    yield from _other_layer_cases(quick)
    yield from _loss_cases(quick)
