"""Neural style transfer: content and style costs on a fixed feature network,
minimised over the generated image's pixels.

Submodules:

- ``features``: the feature networks and their taps.
- ``costs``: Gram matrix, content and style costs with their gradients.
- ``optimize``: L-BFGS-B and Adam on the pixels.
- ``images``: bundled photographs, resizing and result figures.
"""

from nnscratch.style.costs import (
    StyleTransferCost,
    content_cost,
    gram_matrix,
    position_mean_gram,
    style_cost,
)
from nnscratch.style.features import (
    VGG19_CONFIG,
    FeatureNetwork,
    load_vgg19_npz,
    random_multiscale_network,
    vgg_features,
)
from nnscratch.style.optimize import (
    StyleTransferResult,
    minimize_adam,
    minimize_lbfgs,
    style_transfer,
)

__all__ = [
    "VGG19_CONFIG",
    "FeatureNetwork",
    "StyleTransferCost",
    "StyleTransferResult",
    "content_cost",
    "gram_matrix",
    "load_vgg19_npz",
    "minimize_adam",
    "minimize_lbfgs",
    "position_mean_gram",
    "random_multiscale_network",
    "style_cost",
    "style_transfer",
    "vgg_features",
]
