"""Content and style costs of neural style transfer, with their gradients.

Notation for one tapped layer l: its activation ``a`` has shape
(N, C, H, W), M = H * W positions, and ``A = a.reshape(N, C, M)``.

Gram matrix (the course's style matrix): ``G[n, k, k'] = sum over positions
of a[n, k, i, j] * a[n, k', i, j]``, that is ``A @ A^T``.

Normalisation (the same as Gatys, Ecker and Bethge, 2016, for style; the
content constant is the course's programming exercise's)::

    L_content = ||a(G) - a(C)||^2 / (4 C H W)
    L_style   = ||G(G) / M_G - G(S) / M_S||_F^2 / (4 C^2)

Each Gram matrix is divided by its own number of positions, so a style image
of another size than the generated one still gives a comparable matrix. When
the sizes match, L_style equals Gatys's ``||G(G) - G(S)||^2 / (4 C^2 M^2)``.
The total is ``alpha * sum_l w_l L_content[l] + beta * sum_l w_l L_style[l]``.

Gradients with respect to the activations::

    dL_content / da = (a(G) - a(C)) / (2 C H W)
    dL_style / dA   = (G(G) / M - G(S) / M_S) @ A / (C^2 M)

(the second because the Gram difference D is symmetric, so the derivative of
``||A A^T / M - T||^2`` is ``2 (D + D^T) A / M = 4 D A / M``). The gradient
with respect to the image then comes from the feature network's own backward
pass (``FeatureNetwork.backward``).

References
----------
Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016.
"""

import numpy as np

from nnscratch.style.features import FeatureNetwork


def _check_activation(a, name):
    if not isinstance(a, np.ndarray) or a.ndim != 4:
        raise ValueError(
            f"{name} must be an ndarray of shape (N, C, H, W), got "
            f"{getattr(a, 'shape', type(a).__name__)}"
        )


def gram_matrix(a, layout="NCHW"):
    """Compute the Gram matrix of each sample's channels over positions.

    Parameters
    ----------
    a : ndarray of shape (N, C, H, W), or (N, H, W, C) with layout="NHWC"
    layout : {"NCHW", "NHWC"}
        How ``a`` is laid out. Channels-last input is moved to channels-first
        before the reshape, because reshaping (N, H, W, C) straight to
        (N, C, H * W) mixes positions and channels and gives another matrix.

    Returns
    -------
    ndarray of shape (N, C, C), dtype of ``a``
        ``G[n, k, k'] = sum_ij a[n, k, i, j] * a[n, k', i, j]``, not divided
        by the number of positions.

    Examples
    --------
    >>> a = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> gram_matrix(a)[0]
    array([[ 14.,  38.],
           [ 38., 126.]])
    """
    _check_activation(a, "gram_matrix: a")
    if layout == "NHWC":
        a = a.transpose(0, 3, 1, 2)  # (N, C, H, W)
    elif layout != "NCHW":
        raise ValueError(f"gram_matrix: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    N, C, H, W = a.shape
    A = a.reshape(N, C, H * W)  # (N, C, M)
    return A @ A.transpose(0, 2, 1)  # (N, C, C)


def position_mean_gram(a):
    """Return the Gram matrix divided by the number of positions H * W.

    Parameters
    ----------
    a : ndarray of shape (N, C, H, W)

    Returns
    -------
    ndarray of shape (N, C, C)
    """
    _check_activation(a, "position_mean_gram: a")
    return gram_matrix(a) / (a.shape[2] * a.shape[3])


def content_cost(a_generated, a_content):
    """Compute ``||a(G) - a(C)||^2 / (4 C H W)`` and its gradient.

    Parameters
    ----------
    a_generated : ndarray of shape (N, C, H, W)
    a_content : ndarray of shape (N, C, H, W) or (1, C, H, W)

    Returns
    -------
    cost : float
        Summed over the N samples.
    da_generated : ndarray of shape (N, C, H, W), dtype of ``a_generated``
    """
    _check_activation(a_generated, "content_cost: a_generated")
    _check_activation(a_content, "content_cost: a_content")
    if a_content.shape[1:] != a_generated.shape[1:] or a_content.shape[0] not in (
            1, a_generated.shape[0]):
        raise ValueError(
            f"content_cost: a_content has shape {a_content.shape}, which does not "
            f"match a_generated's {a_generated.shape}; give the content and the "
            "generated image the same height and width"
        )
    N, C, H, W = a_generated.shape
    scale = 1.0 / (4 * C * H * W)
    diff = a_generated - a_content
    cost = scale * float(np.sum(np.square(diff, dtype=np.float64)))
    da = (2 * scale) * diff
    return cost, da.astype(a_generated.dtype, copy=False)


def style_cost(a_generated, style_gram):
    """Compute ``||G(G) / M - style_gram||_F^2 / (4 C^2)`` and its gradient.

    Parameters
    ----------
    a_generated : ndarray of shape (N, C, H, W)
    style_gram : ndarray of shape (C, C), (1, C, C) or (N, C, C)
        The style image's Gram matrix divided by its number of positions
        (``position_mean_gram(a_style)``).

    Returns
    -------
    cost : float
        Summed over the N samples.
    da_generated : ndarray of shape (N, C, H, W), dtype of ``a_generated``
    """
    _check_activation(a_generated, "style_cost: a_generated")
    N, C, H, W = a_generated.shape
    style_gram = np.asarray(style_gram)
    if style_gram.ndim == 2:
        style_gram = style_gram[None]  # (1, C, C)
    if style_gram.shape[1:] != (C, C) or style_gram.shape[0] not in (1, N):
        raise ValueError(
            f"style_cost: style_gram has shape {style_gram.shape}, expected "
            f"({C}, {C}) for activations of shape {a_generated.shape}; tap the "
            "same layer for the style and the generated image"
        )
    M = H * W
    A = a_generated.reshape(N, C, M)  # (N, C, M)
    difference = A @ A.transpose(0, 2, 1) / M - style_gram  # (N, C, C)
    cost = float(np.sum(np.square(difference, dtype=np.float64))) / (4 * C * C)
    dA = difference @ A / (C * C * M)  # (N, C, M)
    return cost, dA.reshape(N, C, H, W).astype(a_generated.dtype, copy=False)


class StyleTransferCost:
    """The total cost ``alpha * L_content + beta * L_style`` of an image.

    Targets (content activations, style Gram matrices) are computed once, at
    construction. Each call runs the network forward on the generated image,
    then backward once with every tap's gradient added at its layer.

    Parameters
    ----------
    network : FeatureNetwork
    content_image : ndarray of shape (1, 3, H, W) or None
        RGB in [0, 1]. None turns off the content term (texture synthesis).
    style_image : ndarray of shape (1, 3, HS, WS)
        RGB in [0, 1]; its size may differ from the generated image's.
    alpha, beta : float
        Weights of the content and the style term.
    content_layers, style_layers : dict of str to float, optional
        Layer name to weight ``w_l``; the network's defaults when omitted.

    Examples
    --------
    >>> from nnscratch.style.features import random_multiscale_network
    >>> network = random_multiscale_network(widths=(4, 4), kernel_sizes=(3, 3))
    >>> image = np.full((1, 3, 8, 8), 0.5, dtype=np.float32)
    >>> cost = StyleTransferCost(network, image, image, alpha=1.0, beta=1.0)
    >>> terms, dimage = cost(image)
    >>> terms["total"], dimage.shape
    (0.0, (1, 3, 8, 8))
    """

    def __init__(self, network, content_image, style_image, alpha=1.0, beta=1.0,
                 content_layers=None, style_layers=None):
        if not isinstance(network, FeatureNetwork):
            raise TypeError(
                f"StyleTransferCost: network must be a FeatureNetwork, got "
                f"{type(network).__name__}"
            )
        if alpha < 0 or beta < 0 or alpha + beta == 0:
            raise ValueError(
                f"StyleTransferCost: alpha and beta must be non-negative and not "
                f"both zero, got alpha={alpha!r}, beta={beta!r}"
            )
        self.network = network
        self.alpha = float(alpha)
        self.beta = float(beta)
        content_layers = dict(network.content_layers if content_layers is None
                              else content_layers)
        style_layers = dict(network.style_layers if style_layers is None
                            else style_layers)
        if content_image is None or self.alpha == 0:
            content_layers = {}
        if self.beta == 0:
            style_layers = {}
        if not content_layers and not style_layers:
            raise ValueError(
                "StyleTransferCost: no layer is tapped; give content_layers or "
                "style_layers with at least one layer"
            )
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.taps = sorted(set(content_layers) | set(style_layers),
                           key=network.index.get)

        # Copies, because the network's next forward may reuse its buffers.
        self.content_targets = {}
        if content_layers:
            self._check_image(content_image, "content_image")
            outputs = network.forward(content_image, content_layers)
            self.content_targets = {name: outputs[name].copy()
                                    for name in content_layers}
        self.style_grams = {}
        if style_layers:
            self._check_image(style_image, "style_image")
            outputs = network.forward(style_image, style_layers)
            self.style_grams = {name: position_mean_gram(outputs[name])
                                for name in style_layers}

    @staticmethod
    def _check_image(image, name):
        if not isinstance(image, np.ndarray) or image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(
                f"StyleTransferCost: {name} must be an ndarray of shape "
                f"(1, 3, H, W), got {getattr(image, 'shape', type(image).__name__)}; "
                "convert an (H, W, 3) image with image.transpose(2, 0, 1)[None]"
            )

    def __call__(self, image):
        """Return the cost terms of ``image`` and the total's gradient.

        Parameters
        ----------
        image : ndarray of shape (N, 3, H, W)
            The generated image, RGB in [0, 1].

        Returns
        -------
        terms : dict
            ``"content"`` (alpha times the weighted content costs), ``"style"``
            (beta times the weighted style costs) and ``"total"``, their sum.
        dimage : ndarray of shape (N, 3, H, W)
            The gradient of ``terms["total"]`` with respect to ``image``.
        """
        self._check_image(image, "image")
        outputs = self.network.forward(image, self.taps)

        content, style = 0.0, 0.0
        doutputs = {}
        for name, weight in self.content_layers.items():
            cost, da = content_cost(outputs[name], self.content_targets[name])
            content += self.alpha * weight * cost
            doutputs[name] = (self.alpha * weight) * da
        for name, weight in self.style_layers.items():
            cost, da = style_cost(outputs[name], self.style_grams[name])
            style += self.beta * weight * cost
            scaled = (self.beta * weight) * da
            doutputs[name] = scaled if name not in doutputs else doutputs[name] + scaled

        dimage = self.network.backward(doutputs)
        return {"content": content, "style": style, "total": content + style}, dimage
