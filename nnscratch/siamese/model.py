"""The embedding network f(x) of a Siamese network, and its pair head.

f is a small convolutional network that ends in an L2-normalised encoding of D
values, so every encoding lies on the unit sphere and the squared distance
d(x1, x2) = ||f(x1) - f(x2)||^2 lies in [0, 4]. The binary variant adds a pair
head: logistic regression on the element-wise |f(x1) - f(x2)|.
"""

import numpy as np

from nnscratch.layers import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from nnscratch.layers.activations import sigmoid
from nnscratch.layers.base import Layer, check_input
from nnscratch.model import Sequential
from nnscratch.zoo import register_model


class L2Normalize(Layer):
    """Scale each row of (N, D) input to unit Euclidean length.

    Parameters
    ----------
    eps : float
        Added to the squared norm before the square root, so an all-zero row
        maps to zero instead of dividing by zero.

    Notes
    -----
    With n = sqrt(sum_k x_k^2 + eps) and y = x / n, the Jacobian is
    dy_i/dx_j = (delta_ij - y_i y_j) / n, so the backward pass is::

        dx = (dout - y * sum_k(y_k dout_k)) / n

    It removes the part of ``dout`` along y: moving along y would only change
    the length, which the normalisation discards.
    """

    def __init__(self, eps=1e-12):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"L2Normalize: eps must be positive, got {eps!r}")
        self.eps = float(eps)

    def extra_repr(self):
        return f"eps={self.eps}"

    def flops(self, input_shape):
        return 3 * int(np.prod(input_shape))

    def forward(self, x):
        check_input(x, 2, "L2Normalize", self)
        norm = np.sqrt((x * x).sum(axis=1, keepdims=True) + self.eps)  # (N, 1)
        out = x / norm
        self._cache = (out, norm)
        return out

    def backward(self, dout):
        out, norm = self._pop_cache()
        along_out = (out * dout).sum(axis=1, keepdims=True)  # (N, 1)
        return (dout - out * along_out) / norm


class SiameseNetwork(Sequential):
    """The shared embedding network f, plus the binary variant's pair head.

    ``forward(x)`` runs f alone and returns encodings of shape (N, D). The pair
    head, ``head = Linear(D, 1)``, is not part of that chain: it maps the
    element-wise |f(x1) - f(x2)| to the logit of "same identity". It is still
    a layer of the model, so ``parameters()``, ``state_dict()`` (keys
    ``head.weight`` and ``head.bias``) and checkpoints include it. A model
    trained with the triplet loss leaves the head at its initial weights.

    Parameters
    ----------
    *layers : Layer
        The embedding network, ending in ``L2Normalize``.
    head : Linear
        Logistic regression on (N, D) absolute differences.
    """

    def __init__(self, *layers, head):
        super().__init__(*layers)
        if not isinstance(head, Linear) or head.out_features != 1:
            raise TypeError(
                f"SiameseNetwork: head must be a Linear layer with one output, got "
                f"{head!r}"
            )
        self.head = head

    def __repr__(self):
        return super().__repr__()[:-1] + f"  (head): {self.head!r}\n)"

    @property
    def embedding_size(self):
        return self.head.in_features

    def named_layers(self, prefix=""):
        yield from super().named_layers(prefix)
        yield f"{prefix}head", self.head

    def train(self, mode=True):
        super().train(mode)
        self.head.train(mode)
        return self

    def astype(self, dtype):
        super().astype(dtype)
        self.head.astype(dtype)
        return self


@register_model("siamese")
def build_siamese_network(in_channels=1, image_size=28, embedding_size=64,
                          channels=(32, 64), hidden_size=256, rng=None):
    """Build the embedding network and pair head for square images.

    Each entry of ``channels`` adds one block Conv 3x3 (padding 1) ->
    BatchNorm -> ReLU -> MaxPool 2x2, which halves H and W. Then come
    Flatten -> Linear(hidden_size) -> ReLU -> Linear(embedding_size) ->
    L2Normalize.

    Parameters
    ----------
    in_channels : int
        1 for grey images, 3 for colour.
    image_size : int
        H = W of the input, in pixels. Each block needs at least 2 pixels.
    embedding_size : int
        D, the length of each encoding.
    channels : sequence of int
        Filters per convolutional block.
    hidden_size : int
        Width of the fully connected layer before the encoding.
    rng : numpy.random.Generator, optional
        Draws the initial weights; the library generator when omitted.

    Returns
    -------
    SiameseNetwork
    """
    for name, value in (("in_channels", in_channels), ("image_size", image_size),
                        ("embedding_size", embedding_size),
                        ("hidden_size", hidden_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"build_siamese_network: {name} must be a positive int, got {value!r}"
            )
    channels = [int(c) for c in channels]
    if not channels or min(channels) < 1:
        raise ValueError(
            "build_siamese_network: channels must be a non-empty list of positive "
            f"ints, got {channels!r}"
        )
    if image_size < 2 ** len(channels):
        raise ValueError(
            f"build_siamese_network: image_size {image_size} is too small for "
            f"{len(channels)} pooling blocks, which need at least "
            f"{2 ** len(channels)} pixels; use fewer channels entries or larger images"
        )

    layers = []
    previous, size = in_channels, image_size
    for width in channels:
        layers += [Conv2d(previous, width, 3, padding=1, rng=rng), BatchNorm2d(width),
                   ReLU(), MaxPool2d(2)]
        previous, size = width, size // 2
    layers += [
        Flatten(),
        Linear(previous * size * size, hidden_size, rng=rng),
        ReLU(),
        Linear(hidden_size, embedding_size, rng=rng),
        L2Normalize(),
    ]
    return SiameseNetwork(*layers, head=Linear(embedding_size, 1, rng=rng))


def embed(model, images, batch_size=256):
    """Compute encodings in eval mode, ``batch_size`` images at a time.

    Parameters
    ----------
    model : SiameseNetwork
    images : ndarray of shape (N, C, H, W), float32
    batch_size : int

    Returns
    -------
    ndarray of shape (N, D), float32
    """
    check_input(images, 4, "embed", model)
    was_training = model.training
    model.eval()
    try:
        chunks = [model.forward(images[start:start + batch_size])
                  for start in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    if not chunks:
        return np.zeros((0, model.embedding_size), dtype=images.dtype)
    return np.concatenate(chunks)


def pair_logits(model, x1, x2):
    """Return the head's logits of "same identity" for encoding pairs.

    Parameters
    ----------
    model : SiameseNetwork
    x1, x2 : ndarray of shape (N, D), float
        Encodings; rows are paired.

    Returns
    -------
    ndarray of shape (N,)
        z = sum_k w_k |x1_k - x2_k| + b.
    """
    weight, bias = model.head.params["weight"], model.head.params["bias"]
    return np.abs(x1 - x2) @ weight[0] + bias[0]


def pair_scores(model, x1, x2, score="distance"):
    """Return a dissimilarity per pair: small means the same identity.

    Parameters
    ----------
    model : SiameseNetwork
    x1, x2 : ndarray of shape (N, D), float
        Encodings; rows are paired. Broadcasting applies, so x1 may be (1, D).
    score : {"distance", "logistic"}
        "distance" is d = ||x1 - x2||^2. "logistic" is 1 - P(same), with
        P(same) = sigmoid(z) from the pair head, for models trained with the
        binary loss.

    Returns
    -------
    ndarray of shape (N,)
    """
    if score == "distance":
        return ((x1 - x2) ** 2).sum(axis=1)
    if score == "logistic":
        return 1 - sigmoid(np.asarray(pair_logits(model, x1, x2)))
    raise ValueError(f"pair_scores: score must be 'distance' or 'logistic', got {score!r}")
