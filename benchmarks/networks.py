"""The two whole networks of the benchmarks, their data and one training step.

- "yolo": the detector of ``nnscratch.detector.model.build_detector`` as
  ``nnscratch train detector`` builds it (4 classes, 5 anchors, width 16,
  grid stride 8), on a batch of 32 letterboxed 128 x 128 images of the
  embedded detection dataset, with ``yolo_loss``.
- "classifier": the digit classifier of ``nnscratch.classifier`` with its
  trained default architecture, on a batch of 64 real MNIST digits, with
  softmax cross-entropy. Dropout is left out (p = 0) because the two sides
  could not draw the same masks, so their losses could not be compared.

Both sides take one step of Adam (lr 1e-3) from the same weights. Neither
computes the gradient with respect to the images, as in training.
"""

import numpy as np

from nnscratch import init
from nnscratch.optim import Adam

NETWORKS = ("yolo", "classifier")


def yolo_setup(quick):
    """Return (model, x, target, anchors) for the detector's training step."""
    from nnscratch.detector.dataset import embedded_split
    from nnscratch.detector.model import build_detector
    from nnscratch.detector.pipeline import DetectionBatches, choose_anchors
    from nnscratch.detector.train import DEFAULTS

    batch, size, width = (2, 32, 4) if quick else (32, 128, 16)
    num_anchors, stride = DEFAULTS["num_anchors"], DEFAULTS["grid_stride"]
    data = embedded_split("train", batch)
    anchors, _ = choose_anchors(data.boxes, num_anchors, grid_stride=stride)
    batches = DetectionBatches(data, size, anchors, augment=False, grid_stride=stride)
    x, target = batches.batch(np.arange(batch), np.random.default_rng(0), train=False)

    init.manual_seed(0)
    model = build_detector(num_classes=len(data.class_names), num_anchors=num_anchors,
                           width=width, grid_stride=stride)
    return model.train(), x, target, anchors


def classifier_setup(quick):
    """Return (model, x, labels) for the digit classifier's training step."""
    from nnscratch.classifier import DEFAULT_ARCHITECTURE, build_classifier
    from nnscratch.data.mnist import load_mnist_5k

    images, labels = load_mnist_5k()
    if quick:
        batch, config = 4, {"channels": (4, 8), "hidden": 16, "batch_norm": True}
    else:
        batch, config = 64, {**DEFAULT_ARCHITECTURE, "dropout": 0.0}
    x = (images[:batch].astype(np.float32) / 255)[:, None]  # (N, 1, 28, 28)

    init.manual_seed(0)
    model = build_classifier(**config)
    return model.train(), x, labels[:batch].astype(np.int64)


def ours_step(name, quick, dtype=np.float32):
    """Return (step, model, x): ``step()`` trains once and returns (loss, grads).

    ``dtype`` converts the network and its input (float64 for checks).
    """
    if name == "yolo":
        from nnscratch.detection import yolo_loss

        model, x, target, anchors = yolo_setup(quick)

        def loss_function(out):
            return yolo_loss(out, target, anchors)
    else:
        from nnscratch.losses import softmax_cross_entropy

        model, x, labels = classifier_setup(quick)

        def loss_function(out):
            return softmax_cross_entropy(out, labels)

    model.astype(dtype)
    x = x.astype(dtype)
    optimizer = Adam(model.parameters(), lr=1e-3)

    def step():
        out = model.forward(x)
        loss, dout = loss_function(out)
        model.backward(dout, input_grad=False)
        optimizer.step()
        return loss, {p.name: p.grad for p in model.parameters()}

    return step, model, x


def torch_step(name, quick, dtype=np.float32):
    """Return the PyTorch twin of ``ours_step`` from the same initial weights."""
    import torch

    from benchmarks.torch_twins import torch_grads, torch_twin, yolo_loss_torch

    if name == "yolo":
        model, x, target, anchors = yolo_setup(quick)

        def loss_function(out):
            return yolo_loss_torch(out, target, anchors)
    else:
        model, x, labels = classifier_setup(quick)
        labels_t = torch.from_numpy(labels)

        def loss_function(out):
            return torch.nn.functional.cross_entropy(out, labels_t)

    twin = torch_twin(model.astype(dtype))
    optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)
    x_t = torch.from_numpy(x.astype(dtype))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(twin(x_t))
        loss.backward()
        optimizer.step()
        return loss.item(), torch_grads(twin)

    return step
