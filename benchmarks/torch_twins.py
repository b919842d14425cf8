"""PyTorch copies of nnscratch networks and losses, the references of the benchmarks.

Only the benchmarks import this module, and only when torch is installed.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnscratch import layers
from nnscratch.model import Sequential


def _twin_layer(layer):
    if isinstance(layer, Sequential):
        return nn.Sequential(*(_twin_layer(inner) for inner in layer.layers))
    if isinstance(layer, layers.Conv2d):
        top, bottom, left, right = layer.pads
        if top != bottom or left != right:
            raise NotImplementedError(
                f"torch_twin: asymmetric padding {layer.pads} has no nn.Conv2d twin"
            )
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                         layer.stride, (top, left), bias="bias" in layer.params)
    if isinstance(layer, layers.Linear):
        return nn.Linear(layer.in_features, layer.out_features,
                         bias="bias" in layer.params)
    if isinstance(layer, layers.BatchNorm2d):
        return nn.BatchNorm2d(layer.num_features, layer.eps, layer.momentum)
    if isinstance(layer, layers.MaxPool2d):
        return nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)
    if isinstance(layer, layers.ReLU):
        return nn.ReLU()
    if isinstance(layer, layers.LeakyReLU):
        return nn.LeakyReLU(layer.negative_slope)
    if isinstance(layer, layers.Flatten):
        return nn.Flatten()
    if isinstance(layer, layers.Dropout):
        return nn.Dropout(layer.p)
    raise NotImplementedError(
        f"torch_twin: no PyTorch twin for {type(layer).__name__}"
    )


def torch_twin(model):
    """Return an ``nn.Sequential`` with ``model``'s layers and a copy of its weights.

    Parameters
    ----------
    model : Sequential
        An nnscratch network of the layers above.

    Returns
    -------
    torch.nn.Sequential
        In the same train or eval mode as ``model``, in float64 when
        ``model``'s parameters are float64.
    """
    twin = _twin_layer(model)
    if any(value.dtype == np.float64 for value in model.state_dict().values()):
        twin = twin.double()
    state = {key: torch.from_numpy(value.copy())
             for key, value in model.state_dict().items()}
    # nnscratch keeps no batch counter (momentum=None is not offered).
    missing, unexpected = twin.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise AssertionError(
            f"torch_twin: state keys differ, missing {missing}, unexpected "
            f"{unexpected}"
        )
    return twin.train(model.training)


def torch_grads(module):
    """Return the gradients of ``module``'s parameters as NumPy arrays by name."""
    return {name: parameter.grad.numpy() for name, parameter
            in module.named_parameters() if parameter.grad is not None}


def yolo_loss_torch(output, target, anchors, lambda_coord=5.0, lambda_noobj=0.5,
                    lambda_obj=1.0, lambda_class=1.0):
    """Compute the loss of ``nnscratch.detection.yolo_loss`` (softmax classes) in torch.

    Parameters
    ----------
    output : tensor of shape (N, A * (5 + K), GH, GW)
    target : ndarray of shape (N, GH, GW, A, 5 + K)
    anchors : ndarray of shape (A, 2), (width, height) in cell units

    Returns
    -------
    tensor of shape ()
        Computed in float64, as nnscratch computes its loss.
    """
    N, _, GH, GW = output.shape
    A = anchors.shape[0]
    t = output.double().reshape(N, A, -1, GH, GW).permute(0, 3, 4, 1, 2)
    target = torch.from_numpy(np.asarray(target, dtype=np.float64))
    obj = target[..., 0]  # (N, GH, GW, A), 1 where an object is
    noobj = 1 - obj

    p = torch.sigmoid(t[..., 0])
    loss = lambda_obj * (obj * (p - 1) ** 2).sum()
    loss = loss + lambda_noobj * (noobj * p**2).sum()
    offsets = torch.sigmoid(t[..., 1:3])
    loss = loss + lambda_coord * ((offsets - target[..., 1:3]) ** 2
                                  * obj[..., None]).sum()

    anchor_hw = torch.from_numpy(np.asarray(anchors, np.float64)[:, ::-1].copy())
    sizes = torch.where(obj[..., None] == 1, target[..., 3:5], anchor_hw)
    loss = loss + lambda_coord * ((t[..., 3:5] - torch.log(sizes / anchor_hw)) ** 2
                                  * obj[..., None]).sum()
    log_probs = F.log_softmax(t[..., 5:], dim=-1)
    class_loss = -(target[..., 5:] * log_probs).sum(dim=-1)
    loss = loss + lambda_class * (class_loss * obj).sum()
    return loss / N
