"""Turn fully connected heads into convolutions (convolutional sliding windows).

A ``Linear`` layer that follows ``Flatten`` on a (C, H, W) feature map is the
same map as a ``Conv2d`` with an H x W kernel and no padding: its weight
(out, C*H*W) reshapes to (out, C, H, W) because ``Flatten`` is C-ordered.
Every later ``Linear`` becomes a 1x1 convolution. On a larger input the
converted network then slides the whole classifier over the image in one pass,
one output position per window, with the stride equal to the product of the
strides before the head.

References
----------
Sermanet, Eigen, Zhang, Mathieu, Fergus and LeCun, "OverFeat: Integrated
Recognition, Localization and Detection using Convolutional Networks", ICLR
2014.
"""

import numpy as np

from nnscratch.layers.conv import Conv2d
from nnscratch.layers.linear import Flatten, Linear


def linear_to_conv(linear, in_shape):
    """Return a ``Conv2d`` equal to ``linear`` applied to flattened ``in_shape``.

    Parameters
    ----------
    linear : Linear
    in_shape : tuple of int (C, H, W)
        The feature map that ``Flatten`` turned into ``linear``'s input;
        (C, 1, 1) for a ``Linear`` that follows another one.
    """
    C, H, W = in_shape
    weight = linear.params["weight"]
    if C * H * W != linear.in_features:
        raise ValueError(
            f"linear_to_conv: a feature map of shape {in_shape} has {C * H * W} "
            f"values but the Linear layer takes {linear.in_features}"
        )
    # The throwaway initial weights come from a private generator, so that a
    # conversion leaves the library generator (and so later runs) untouched.
    conv = Conv2d(C, linear.out_features, (H, W), bias="bias" in linear.params,
                  dtype=weight.dtype, rng=np.random.default_rng(0))
    conv.params["weight"] = weight.reshape(linear.out_features, C, H, W).copy()
    if "bias" in linear.params:
        conv.params["bias"] = linear.params["bias"].copy()
    return conv


def fc_to_conv(model, input_shape):
    """Return a fully convolutional copy of a ``Sequential`` classifier.

    Parameters
    ----------
    model : Sequential
        Convolutional body, then ``Flatten``, then ``Linear`` layers with
        element-wise layers between them.
    input_shape : tuple of int (N, C, H, W)
        The input the classifier was trained on (its window size).

    Returns
    -------
    Sequential
        The same layers with ``Flatten`` removed and each ``Linear`` replaced
        by its ``Conv2d``. Weights are copied, so ``model`` is untouched.
    """
    from nnscratch.model import Sequential

    shape = tuple(input_shape)
    layers = []
    feature_shape = None
    for layer in model.layers:
        if isinstance(layer, Flatten):
            if len(shape) != 4:
                raise ValueError(
                    f"fc_to_conv: Flatten must see an NCHW feature map, got {shape}"
                )
            feature_shape = shape[1:]
        elif isinstance(layer, Linear):
            if feature_shape is None:
                raise ValueError(
                    "fc_to_conv: found a Linear layer before any Flatten; the "
                    "model must be a conv body followed by a Flatten + Linear head"
                )
            layers.append(linear_to_conv(layer, feature_shape))
            feature_shape = (layer.out_features, 1, 1)
        else:
            layers.append(layer)
        shape = layer.output_shape(shape)

    converted = Sequential(*layers)
    converted.train(model.training)
    return converted
