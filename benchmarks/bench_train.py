"""Whole training steps against the same networks written in PyTorch.

One step is forward, loss, backward and an Adam update; see
``benchmarks.networks`` for the two networks and their data. Before timing,
the first step of each side starts from the same weights, and the losses and
every parameter gradient of that step must agree, in float32 and, more
tightly, in float64.

The YOLO loss of the PyTorch side is the same formula written with torch
operations (``benchmarks.torch_twins.yolo_loss_torch``), so the comparison
includes a loss computed by autograd on one side and by hand on the other.
"""

import numpy as np

from benchmarks.harness import Case, assert_close, import_torch, torch_name
from benchmarks.networks import NETWORKS, ours_step, torch_step

GROUP = "train"
TARGET_RATIO = 1.5


def _compare_steps(ours, reference, rtol):
    (loss, grads), (loss_t, grads_t) = ours, reference
    assert np.isclose(loss, loss_t, rtol=rtol), f"loss {loss} != torch's {loss_t}"
    assert sorted(grads) == sorted(grads_t), (sorted(grads), sorted(grads_t))
    for key, grad in grads.items():
        assert_close(grad, grads_t[key], rtol, f"gradient {key}")


def step_check(name, quick):
    """Return the check of one network's first training step.

    The float32 steps must agree to 1% of each gradient's scale, because a
    bias gradient behind batch normalisation is a sum of terms that cancel.
    In the YOLO network, float32 rounding in a different summation order
    moved one by 9% of itself (0.3% of the scale). The float64 steps, which
    the check runs itself, must agree to 1e-9, so an error that the float32
    tolerance would hide still fails.
    """
    def check(ours, reference):
        _compare_steps(ours, reference, 1e-2)
        ours64 = ours_step(name, quick, np.float64)[0]()
        reference64 = torch_step(name, quick, np.float64)()
        _compare_steps(ours64, reference64, 1e-9)

    return check


def cases(quick=False):
    """Yield one training-step case per network."""
    torch = import_torch()
    for name in NETWORKS:
        step, model, x = ours_step(name, quick)
        reference = torch_step(name, quick) if torch is not None else None
        label = "x".join(map(str, x.shape))
        yield Case(GROUP, f"{name} train step, batch {label}", step, reference,
                   torch_name(), check=step_check(name, quick),
                   flops=3 * model.flops(x.shape), target_ratio=TARGET_RATIO)
