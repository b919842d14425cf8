"""Whole training steps against the same networks written in PyTorch.

One step is forward, loss, backward and an Adam update; see
``benchmarks.networks`` for the two networks and their data. Before timing,
the first step of each side starts from the same weights, and the losses and
every parameter gradient of that step must agree.

The YOLO loss of the PyTorch side is the same formula written with torch
operations (``benchmarks.torch_twins.yolo_loss_torch``), so the comparison
includes a loss computed by autograd on one side and by hand on the other.
"""

import numpy as np

from benchmarks.harness import Case, assert_close, import_torch, torch_name
from benchmarks.networks import NETWORKS, ours_step, torch_step

GROUP = "train"
TARGET_RATIO = 1.5


def _check_step(ours, reference):
    (loss, grads), (loss_t, grads_t) = ours, reference
    assert np.isclose(loss, loss_t, rtol=1e-4), f"loss {loss} != torch's {loss_t}"
    assert sorted(grads) == sorted(grads_t), (sorted(grads), sorted(grads_t))
    for key, grad in grads.items():
        # Gradients pass through up to 11 float32 layers with batch
        # normalisation, whose reductions run in a different order in torch.
        assert_close(grad, grads_t[key], 1e-3, f"gradient {key}")


def cases(quick=False):
    """Yield one training-step case per network."""
    torch = import_torch()
    for name in NETWORKS:
        step, model, x = ours_step(name, quick)
        reference = torch_step(name, quick) if torch is not None else None
        label = "x".join(map(str, x.shape))
        yield Case(GROUP, f"{name} train step, batch {label}", step, reference,
                   torch_name(), check=_check_step,
                   flops=3 * model.flops(x.shape), target_ratio=TARGET_RATIO)
