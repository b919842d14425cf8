"""Feature networks for style transfer, run with taps at named layers.

Style transfer compares activations of a fixed convolutional network at
several depths. This module provides the network, and a way to read
activations at chosen layers and send a gradient back from each of them in
one backward pass.

Two networks are available:

- ``random_multiscale_network``: a VGG-like stack of 3x3 and 5x5 convolutions
  with fixed random filters, ReLU and 2x2 average pooling. Its taps see the
  image at five scales. No download is needed.
- ``load_vgg19_npz``: VGG-19's convolutional part with ImageNet weights,
  read from an ``.npz`` whose keys are torchvision's (``features.0.weight``).

References
----------
Ustyuzhaninov, Brendel, Gatys and Bethge, "What does it take to generate
natural textures?", ICLR 2017.
He, Wang and Hopcroft, "A Powerful Generative Model Using Random Weights for
the Deep Image Representation", NIPS 2016.
Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition", ICLR 2015.
"""

import os
import zipfile

import numpy as np

from nnscratch import init
from nnscratch.layers import AvgPool2d, Conv2d, MaxPool2d, ReLU
from nnscratch.model import Sequential

# Every .npz is a zip archive, whose first local file header starts so.
_ZIP_MAGIC = b"PK\x03\x04"

# torchvision's ImageNet input statistics for RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# VGG-19's convolutional part: output channels of each 3x3 convolution, "M"
# for a 2x2 max pool. torchvision's ``vgg19().features`` numbers its layers
# in this order, a ReLU after each convolution.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

# Style weight beta (alpha = 1) of each network, with the costs normalised as
# in nnscratch.style.costs. The random network's value was chosen by eye on
# 256x256 transfers of scikit-image's astronaut in the style of its
# immunohistochemistry slide: 100 mostly moves colour, 1000 also brings the
# stain's texture and keeps the face. At 128x128, 1000 swamps the face.
DEFAULT_BETA_RANDOM = 1000.0
# NOTE: not tuned, because no VGG-19 weights are available here. Gatys et
# al.'s alpha / beta of 1e-3 to 1e-4 does not carry over, because they scale
# the content cost by 1/2 and feed pixels in [0, 255]. Try a range.
DEFAULT_BETA_VGG = 1e3


class FeatureNetwork:
    """A ``Sequential`` whose layers have names, run with taps.

    ``forward`` returns the activations of the requested layers and stops
    after the deepest one. ``backward`` takes a gradient for each tapped
    layer and returns the gradient with respect to the input image: it walks
    the layers in reverse and adds each tap's gradient where that layer's
    output was read.

    Parameters
    ----------
    model : Sequential
        A flat chain of layers (no nested ``Sequential``).
    layer_names : sequence of str
        One name per layer of ``model``, such as ``"relu3_1"``.
    mean, std : sequence of 3 float
        The network's input is ``(image - mean) / std`` per channel.
    content_layers, style_layers : dict of str to float
        The default taps and their weights for this network.
    default_beta : float
        The style weight ``beta`` (with ``alpha = 1``) that ``style_transfer``
        uses for this network unless told otherwise.
    description : str
        One line saying what the network is.

    Examples
    --------
    >>> network = random_multiscale_network(widths=(4, 4), kernel_sizes=(3, 3))
    >>> image = np.zeros((1, 3, 8, 8), dtype=np.float32)
    >>> sorted(network.forward(image, ["relu1", "relu2"]))
    ['relu1', 'relu2']
    """

    def __init__(self, model, layer_names, mean, std, content_layers, style_layers,
                 default_beta=1.0, description=""):
        if not isinstance(model, Sequential):
            raise TypeError(
                f"FeatureNetwork: model must be a Sequential, got "
                f"{type(model).__name__}"
            )
        if any(isinstance(layer, Sequential) for layer in model.layers):
            raise ValueError(
                "FeatureNetwork: model must be a flat Sequential without nested "
                "Sequential layers; build it from leaf layers"
            )
        if len(layer_names) != len(model) or len(set(layer_names)) != len(model):
            raise ValueError(
                f"FeatureNetwork: layer_names must give {len(model)} distinct "
                f"names, one per layer, got {list(layer_names)!r}"
            )
        # Eval mode makes BatchNorm use its running statistics and turns
        # Dropout off. Convolutions stay in train mode, because that only makes
        # them keep their im2col columns for backward instead of rebuilding them.
        self.model = model.eval()
        for layer in model.layers:
            if isinstance(layer, Conv2d):
                layer.train()
        self.layer_names = list(layer_names)
        self.index = {name: i for i, name in enumerate(self.layer_names)}
        self.mean = np.asarray(mean, dtype=np.float64).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, dtype=np.float64).reshape(1, -1, 1, 1)
        self.content_layers = dict(content_layers)
        self.style_layers = dict(style_layers)
        self.default_beta = float(default_beta)
        self.description = description
        self._depth = None
        for name in (*self.content_layers, *self.style_layers):
            self.check_layer(name)

    @property
    def dtype(self):
        """The dtype of the network's weights (float32 unless converted)."""
        for parameter in self.model.parameters():
            return parameter.data.dtype
        return np.dtype(np.float32)

    def astype(self, dtype):
        """Convert the weights to ``dtype`` in place (float64 for checks)."""
        self.model.astype(dtype)
        return self

    def check_layer(self, name):
        """Raise ``ValueError`` unless ``name`` is one of the layer names."""
        if name not in self.index:
            raise ValueError(
                f"unknown layer {name!r}; this network's layers are "
                f"{self.layer_names}"
            )

    def forward(self, image, taps):
        """Run ``image`` through the network up to the deepest tap.

        Parameters
        ----------
        image : ndarray of shape (N, 3, H, W), float32 or float64
            RGB in [0, 1].
        taps : iterable of str
            Layer names whose outputs to return.

        Returns
        -------
        dict of str to ndarray of shape (N, C, H_l, W_l)
            The output of each tapped layer.
        """
        taps = list(taps)
        if not taps:
            raise ValueError("FeatureNetwork.forward: taps is empty; name at "
                             "least one layer")
        for name in taps:
            self.check_layer(name)
        if not isinstance(image, np.ndarray) or image.ndim != 4:
            raise ValueError(
                f"FeatureNetwork.forward expects an image of shape (N, 3, H, W), "
                f"got {getattr(image, 'shape', type(image).__name__)}"
            )
        if image.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"FeatureNetwork.forward expects {self.mean.shape[1]} channels, "
                f"got image shape {image.shape}"
            )

        dtype = self.dtype
        x = ((image - self.mean) / self.std).astype(dtype)
        depth = max(self.index[name] for name in taps)
        requested = set(taps)
        outputs = {}
        for index in range(depth + 1):
            x = self.model[index].forward(x)
            if self.layer_names[index] in requested:
                outputs[self.layer_names[index]] = x
        self._depth = depth
        return outputs

    def backward(self, doutputs):
        """Return the gradient with respect to the image of the last forward.

        Parameters
        ----------
        doutputs : dict of str to ndarray
            The gradient of the cost with respect to each tapped output; a
            tap left out contributes nothing.

        Returns
        -------
        ndarray of shape (N, 3, H, W)
            In the dtype of the network's weights.
        """
        if self._depth is None:
            raise RuntimeError(
                "FeatureNetwork.backward was called before forward; call "
                "forward(image, taps) first"
            )
        for name in doutputs:
            self.check_layer(name)
            if self.index[name] > self._depth:
                raise ValueError(
                    f"FeatureNetwork.backward got a gradient for {name!r}, which "
                    "the last forward did not reach; tap it in forward"
                )
        depth, self._depth = self._depth, None

        dx = None
        for index in range(depth, -1, -1):
            dtap = doutputs.get(self.layer_names[index])
            if dtap is not None:
                # The tapped output also feeds the next layer, so its
                # gradient is the sum of both paths.
                dx = dtap if dx is None else dx + dtap
            if dx is not None:
                dx = self.model[index].backward(dx)
        if dx is None:
            raise ValueError("FeatureNetwork.backward: doutputs is empty")
        return dx / self.std.astype(dx.dtype)


def random_multiscale_network(widths=(32, 64, 128, 256, 256),
                              kernel_sizes=(5, 3, 3, 3, 3), seed=0,
                              dtype=np.float32):
    """Build the default feature network: fixed random filters at five scales.

    Stage ``s`` (1-based) is ``conv{s}`` (``kernel_sizes[s-1]``, "same"
    padding, ``widths[s-1]`` filters), ``relu{s}`` and, except after the last
    stage, ``pool{s}`` (2x2 average). The filters are He-normal draws with
    zero bias from a generator seeded with ``seed``, so every run builds the
    same network.

    Parameters
    ----------
    widths : sequence of int
        Filters per stage.
    kernel_sizes : sequence of int
        Kernel size per stage, same length as ``widths``.
    seed : int
    dtype : numpy dtype

    Returns
    -------
    FeatureNetwork
        Style taps: every ``relu{s}``, equal weights. Content tap: ``relu1``.
        ``default_beta`` is ``DEFAULT_BETA_RANDOM``.

    Notes
    -----
    Random filters are enough for texture statistics: Ustyuzhaninov et al.
    (2017) made good textures with one layer of random filters at several
    sizes, and He et al. (2016) with a random VGG. Here the scales come from
    depth: with the defaults the taps see squares of 5, 10, 20, 40 and 80
    pixels. Average pooling gives smoother image gradients than max pooling,
    the choice Gatys et al. made for VGG in style transfer.

    The content tap is the first ReLU, not a deep one as with VGG. Random
    filters after a pool barely respond to pixel-scale noise. So a content
    tap at ``relu2`` or deeper left the noise of the starting image in the
    output of 128x128 transfers of scikit-image's astronaut. With ``relu1``
    the image is clean, and its colours and textures still follow the style.
    """
    if len(widths) != len(kernel_sizes) or not widths:
        raise ValueError(
            f"random_multiscale_network: widths and kernel_sizes must be non-empty "
            f"and of equal length, got {widths!r} and {kernel_sizes!r}"
        )
    rng = np.random.default_rng(seed)
    layers, names = [], []
    in_channels = 3
    stages = len(widths)
    for stage, (width, kernel) in enumerate(zip(widths, kernel_sizes), start=1):
        conv = Conv2d(in_channels, width, kernel, padding="same", dtype=dtype, rng=rng)
        conv.params["weight"] = init.kaiming_normal(conv.params["weight"].shape,
                                                    rng=rng, dtype=dtype)
        conv.params["bias"] = np.zeros(width, dtype=dtype)
        layers += [conv, ReLU()]
        names += [f"conv{stage}", f"relu{stage}"]
        if stage < stages:
            layers.append(AvgPool2d(2))
            names.append(f"pool{stage}")
        in_channels = width

    style = {f"relu{stage}": 1.0 / stages for stage in range(1, stages + 1)}
    content = {"relu1": 1.0}
    return FeatureNetwork(
        Sequential(*layers), names, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
        content_layers=content, style_layers=style, default_beta=DEFAULT_BETA_RANDOM,
        description=f"random multi-scale ({stages} stages, seed {seed})",
    )


def vgg_layer_names(config):
    """Return torchvision-style names (``conv1_1``, ``relu1_1``, ``pool1``)."""
    names = []
    block, index = 1, 1
    for item in config:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


def vgg_features(config=VGG19_CONFIG, pool="max", dtype=np.float32):
    """Build VGG's convolutional part with torchvision's layer order.

    Parameters
    ----------
    config : sequence of int or "M"
        Output channels of each 3x3 convolution (padding 1, each followed by
        a ReLU), or "M" for a 2x2 pool. ``VGG19_CONFIG`` is VGG-19.
    pool : {"max", "avg"}
        Max pooling as trained, or average pooling, which Gatys et al.
        found gives slightly better style transfer.
    dtype : numpy dtype

    Returns
    -------
    model : Sequential
        Layer ``i`` is torchvision's ``features[i]``, so
        ``model.state_dict()`` keys are torchvision's without ``features.``.
    names : list of str
    """
    if pool not in ("max", "avg"):
        raise ValueError(f"vgg_features: pool must be 'max' or 'avg', got {pool!r}")
    layers = []
    in_channels = 3
    for item in config:
        if item == "M":
            layers.append(MaxPool2d(2) if pool == "max" else AvgPool2d(2))
        else:
            layers += [Conv2d(in_channels, item, 3, padding=1, dtype=dtype), ReLU()]
            in_channels = item
    return Sequential(*layers), vgg_layer_names(config)


def load_vgg19_npz(path, config=VGG19_CONFIG, pool="avg", dtype=np.float32):
    """Build VGG-19 and load its ImageNet weights from an ``.npz``.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` with torchvision's keys ``features.<i>.weight`` and
        ``features.<i>.bias``. Other entries that do not start with
        ``features.`` (such as ``classifier.0.weight``) are ignored.
    config : sequence of int or "M"
        The architecture the file must match; ``VGG19_CONFIG`` by default.
    pool : {"max", "avg"}
        See ``vgg_features``.
    dtype : numpy dtype

    Returns
    -------
    FeatureNetwork
        Style taps ``relu1_1`` to ``relu5_1`` with equal weights, content tap
        ``relu4_2``, as Gatys et al. used, and torchvision's ImageNet input
        normalisation.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an ``.npz``, contains pickled objects, lacks a key,
        has an unexpected ``features.`` key, or an array of the wrong shape.

    Notes
    -----
    One-off conversion on a machine that has torchvision and its weights::

        import numpy as np, torchvision
        model = torchvision.models.vgg19(weights="IMAGENET1K_V1")
        np.savez("vgg19.npz", **{f"features.{k}": v.numpy()
                                 for k, v in model.features.state_dict().items()})
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"VGG-19 weights not found: {path!r}; convert them once with the "
            "steps in load_vgg19_npz's docstring"
        )
    with open(path, "rb") as stream:
        magic = stream.read(len(_ZIP_MAGIC))
    # np.load reads a lone .npy as an array, and reports any other non-zip
    # file as pickled data, so check for the archive header first.
    if magic != _ZIP_MAGIC:
        raise ValueError(
            f"{path!r} is not a readable .npz file (it starts with {magic!r}); "
            "save the weights with np.savez as load_vgg19_npz's docstring shows"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path!r} is not a readable .npz file ({error})") from None
    except ValueError as error:
        raise ValueError(
            f"{path!r} contains pickled objects, which are never loaded because "
            f"unpickling can run code ({error}); save plain arrays with np.savez"
        ) from None

    model, names = vgg_features(config, pool=pool, dtype=dtype)
    expected = {f"features.{key}": value.shape
                for key, value in model.state_dict().items()}
    present = {key: value for key, value in arrays.items()
               if key.startswith("features.")}
    missing = sorted(set(expected) - set(present), key=_natural_key)
    unexpected = sorted(set(present) - set(expected), key=_natural_key)
    if missing or unexpected:
        raise ValueError(
            f"{path!r} does not match VGG-19's layers: missing keys {missing}, "
            f"unexpected keys {unexpected}; the file needs torchvision's "
            "vgg19().features keys, each prefixed with 'features.'"
        )
    for key, shape in expected.items():
        if present[key].shape != shape:
            raise ValueError(
                f"{path!r}: entry {key!r} has shape {present[key].shape}, VGG-19 "
                f"expects {shape}; the file is from another architecture"
            )
    model.load_state_dict({key[len("features."):]: value
                           for key, value in present.items()})

    style_names = [name for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1",
                                     "relu5_1") if name in names]
    style = {name: 1.0 / len(style_names) for name in style_names}
    content = {"relu4_2": 1.0} if "relu4_2" in names else {names[-2]: 1.0}
    return FeatureNetwork(model, names, IMAGENET_MEAN, IMAGENET_STD,
                          content_layers=content, style_layers=style,
                          default_beta=DEFAULT_BETA_VGG, description=f"VGG-19 from {os.path.basename(path)}")


def _natural_key(key):
    # Sort "features.10.weight" after "features.2.weight".
    return [int(part) if part.isdigit() else part for part in key.split(".")]
