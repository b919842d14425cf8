"""Sliding-window detection, naive and convolutional.

A classifier trained on tight crops of one size (say 14 x 14) is slid over a
larger image. The naive way crops every window and runs the classifier on each
crop, repeating the shared computation of overlapping windows. The
convolutional way turns the classifier's fully connected head into
convolutions (``nnscratch.layers.fc_to_conv``) and runs it once on the whole
image: each output position is one window, and the stride between windows is
the product of the strides of the body's layers.

Both return a score map of shape (K, OH, OW): ``scores[:, i, j]`` is the
classifier output for the window whose top-left corner is pixel
(i * stride_h, j * stride_w). OH = floor((H - window_h) / stride_h) + 1,
likewise OW.

References
----------
Sermanet, Eigen, Zhang, Mathieu, Fergus and LeCun, "OverFeat: Integrated
Recognition, Localization and Detection using Convolutional Networks", ICLR
2014.
"""

import numpy as np

from nnscratch.layers.base import pair
from nnscratch.layers.conv import Conv2d
from nnscratch.layers.convert import fc_to_conv
from nnscratch.layers.linear import Flatten
from nnscratch.layers.pool import AvgPool2d, MaxPool2d


def _body_layers(model):
    """Yield the layers before the first Flatten, the convolutional body."""
    for layer in model.layers:
        if isinstance(layer, Flatten):
            return
        yield layer


def sliding_window_stride(model):
    """Return the (stride_h, stride_w) between windows of the converted model.

    It is the product of the strides of the ``Conv2d`` and pooling layers
    before the model's ``Flatten``. A body of stride-1 convolutions and one
    2 x 2 max pool gives (2, 2).
    """
    stride_h, stride_w = 1, 1
    for layer in _body_layers(model):
        if isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d)):
            stride_h *= layer.stride[0]
            stride_w *= layer.stride[1]
    return stride_h, stride_w


def _check_image(image, function):
    if not isinstance(image, np.ndarray) or image.dtype not in (np.float32,
                                                                np.float64):
        raise TypeError(
            f"{function}: image must be a float32 or float64 numpy.ndarray, got "
            f"{getattr(image, 'dtype', type(image).__name__)}"
        )
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3:
        raise ValueError(
            f"{function}: image must have shape (C, H, W) or (1, C, H, W), got "
            f"{image.shape}"
        )
    return image


def _window_grid(image, window, stride, function):
    C, H, W = image.shape
    window_h, window_w = pair(window, "window")
    stride_h, stride_w = pair(stride, "stride")
    if window_h > H or window_w > W:
        raise ValueError(
            f"{function}: window {window_h}x{window_w} is larger than the image "
            f"{H}x{W}"
        )
    if min(window_h, window_w, stride_h, stride_w) < 1:
        raise ValueError(
            f"{function}: window and stride must be >= 1, got window={window!r}, "
            f"stride={stride!r}"
        )
    OH = (H - window_h) // stride_h + 1
    OW = (W - window_w) // stride_w + 1
    return (window_h, window_w), (stride_h, stride_w), (OH, OW)


def sliding_window_naive(model, image, window, stride, batch_size=1):
    """Classify every crop of ``image`` separately: the slow, obvious way.

    Parameters
    ----------
    model : Layer
        A classifier mapping (n, C, window_h, window_w) to (n, K).
    image : ndarray of shape (C, H, W) or (1, C, H, W), float32 or float64
        Its dtype must match the model's parameters.
    window : int or pair of int
        Crop size (window_h, window_w), the classifier's input size.
    stride : int or pair of int
        Step between crops, in pixels.
    batch_size : int, default 1
        Crops per forward call. 1 runs the classifier once per crop.

    Returns
    -------
    ndarray of shape (K, OH, OW)
        Classifier output of each window.
    """
    image = _check_image(image, "sliding_window_naive")
    (window_h, window_w), (stride_h, stride_w), (OH, OW) = _window_grid(
        image, window, stride, "sliding_window_naive")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"sliding_window_naive: batch_size must be a positive int, got "
            f"{batch_size!r}"
        )

    corners = [(i * stride_h, j * stride_w) for i in range(OH) for j in range(OW)]
    outputs = []
    for start in range(0, len(corners), batch_size):
        crops = np.stack([
            image[:, top : top + window_h, left : left + window_w]
            for top, left in corners[start : start + batch_size]
        ])  # (n, C, window_h, window_w)
        outputs.append(model.forward(crops))  # (n, K)
    scores = np.concatenate(outputs)  # (OH * OW, K)
    return scores.T.reshape(-1, OH, OW)


def sliding_window_conv(model, image, window):
    """Score every window of ``image`` in one pass of the converted classifier.

    Parameters
    ----------
    model : Sequential
        A classifier: convolutional body, ``Flatten``, then ``Linear`` layers
        with element-wise layers between them, trained on (C, window) crops.
        A model that is already fully convolutional is run as it is.
    image : ndarray of shape (C, H, W) or (1, C, H, W), float32 or float64
    window : int or pair of int
        The classifier's input size (window_h, window_w).

    Returns
    -------
    ndarray of shape (K, OH, OW)
        Equal (to float rounding) to ``sliding_window_naive`` with the stride
        of ``sliding_window_stride(model)``.

    Notes
    -----
    The equality holds when the body's layers use no padding: with padding,
    the converted network pads the whole image once instead of each crop, so
    windows on the border see image pixels where a crop would see zeros. The
    model's train/eval mode is used as it is; call ``model.eval()`` first if it
    has dropout or batch normalisation.
    """
    image = _check_image(image, "sliding_window_conv")
    window_h, window_w = pair(window, "window")
    C, H, W = image.shape
    if window_h > H or window_w > W:
        raise ValueError(
            f"sliding_window_conv: window {window_h}x{window_w} is larger than the "
            f"image {H}x{W}"
        )
    converted = fc_to_conv(model, (1, C, window_h, window_w))
    scores = converted.forward(image[None])  # (1, K, OH, OW)
    return scores[0]
