"""Train a Siamese network with the triplet or the binary loss.

Each batch holds P identities with K images each (PK sampling), so every image
has positives in its own batch. The batch runs through the shared network
once. Triplets are mined from its encodings, the loss gives a gradient for
each role of each triplet, and ``np.add.at`` sums those per image. One
backward pass then puts the gradient of both branches (or all three roles)
into the one set of weights: the layers overwrite their gradients on each
backward pass, so separate passes per branch would keep only the last one.
"""

import dataclasses
import math

import numpy as np

from nnscratch.optim import Adam, CosineLR, apply
from nnscratch.siamese.losses import logistic_pair_loss, triplet_loss
from nnscratch.siamese.mining import STRATEGIES, UNKNOWN_LABEL, mine_triplets

LOSSES = ("triplet", "binary")


@dataclasses.dataclass
class TrainConfig:
    """Settings of ``fit``.

    Attributes
    ----------
    loss : {"triplet", "binary"}
    mining : {"random", "hard", "semi-hard"}
        Triplet choice; the binary loss trains on each mined triplet's pairs
        (a, p) as "same" and (a, n) as "different".
    margin : float
        alpha of the triplet loss, in squared-distance units (encodings are
        unit vectors, so squared distances lie in [0, 4]).
    reduction : {"mean", "mean_active", "sum"}
        Of the triplet loss.
    epochs : int
        An epoch is as many batches as it takes to draw every known image once
        on average.
    classes_per_batch, images_per_class : int
        P and K of the batches.
    lr : float
        Adam's initial learning rate; cosine decay takes it to 1/20 of that.
    max_shift : int
        Random translation of each training image, up to this many pixels per
        axis, as augmentation; 0 turns it off.
    seed : int
    """

    loss: str = "triplet"
    mining: str = "semi-hard"
    margin: float = 0.2
    reduction: str = "mean_active"
    epochs: int = 8
    classes_per_batch: int = 7
    images_per_class: int = 16
    lr: float = 2e-3
    max_shift: int = 2
    seed: int = 0

    def validate(self):
        """Raise ValueError naming the first invalid setting."""
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.mining not in STRATEGIES:
            raise ValueError(f"mining must be one of {STRATEGIES}, got {self.mining!r}")
        for name in ("epochs", "classes_per_batch", "images_per_class"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.classes_per_batch < 2 or self.images_per_class < 2:
            raise ValueError(
                "a batch needs at least 2 identities with at least 2 images each to "
                f"form triplets, got classes_per_batch={self.classes_per_batch} and "
                f"images_per_class={self.images_per_class}"
            )
        if not self.lr > 0 or self.margin < 0 or self.max_shift < 0:
            raise ValueError(
                f"lr must be positive and margin and max_shift non-negative, got "
                f"lr={self.lr!r}, margin={self.margin!r}, max_shift={self.max_shift!r}"
            )


def pk_batches(labels, classes_per_batch, images_per_class, rng):
    """Return one epoch of batches, each P identities x K images.

    Identities are drawn without replacement within a batch. Images are drawn
    without replacement where the identity has K or more, with replacement
    otherwise. Unknown images (``UNKNOWN_LABEL``), if any, add K more images
    to each batch as extra negatives.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    classes_per_batch, images_per_class : int
        P and K; P is capped at the number of identities with two or more
        images.
    rng : numpy.random.Generator

    Returns
    -------
    list of ndarray of int64
        Indices into ``labels``; ceil(known images / (P K)) batches.
    """
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == label) for label in np.unique(labels)
              if label != UNKNOWN_LABEL]
    groups = [group for group in groups if len(group) >= 2]
    if len(groups) < 2:
        raise ValueError(
            "training needs at least two identities with two or more images each, "
            f"got {len(groups)}; add images or identities"
        )
    unknown = np.flatnonzero(labels == UNKNOWN_LABEL)
    P = min(classes_per_batch, len(groups))
    K = images_per_class
    known_count = sum(len(group) for group in groups)
    batches = []
    for _ in range(math.ceil(known_count / (P * K))):
        chosen = rng.choice(len(groups), P, replace=False)
        parts = [rng.choice(groups[g], K, replace=len(groups[g]) < K) for g in chosen]
        if len(unknown):
            parts.append(rng.choice(unknown, K, replace=len(unknown) < K))
        batches.append(np.concatenate(parts).astype(np.int64))
    return batches


def random_shift(images, max_shift, rng):
    """Translate each image by up to ``max_shift`` pixels per axis, filling with 0.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W)
    max_shift : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (N, C, H, W)
        A new array; ``images`` is unchanged.
    """
    if max_shift == 0:
        return images.copy()
    N, C, H, W = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (max_shift,) * 2, (max_shift,) * 2))
    out = np.empty_like(images)
    offsets = rng.integers(0, 2 * max_shift + 1, size=(N, 2))
    for index, (top, left) in enumerate(offsets):
        out[index] = padded[index, :, top:top + H, left:left + W]
    return out


def train_step(model, optimizer, images, labels, config, rng):
    """Run one forward pass, mine triplets, run one backward pass and update.

    Parameters
    ----------
    model : SiameseNetwork
        In train mode.
    optimizer : Optimizer
        Over ``model.parameters()``.
    images : ndarray of shape (B, C, H, W), float
    labels : ndarray of shape (B,), int
    config : TrainConfig
    rng : numpy.random.Generator

    Returns
    -------
    loss : float
        0 when the batch yields no triplet, in which case nothing is updated.
    triplets : int
        Number of mined triplets.
    """
    encodings = model.forward(images)  # (B, D)
    anchor, positive, negative = mine_triplets(encodings, labels, config.mining,
                                               config.margin, rng=rng)
    if len(anchor) == 0:
        return 0.0, 0

    dencodings = np.zeros_like(encodings)
    if config.loss == "triplet":
        loss, (danchor, dpositive, dnegative) = triplet_loss(
            encodings[anchor], encodings[positive], encodings[negative],
            margin=config.margin, reduction=config.reduction)
        np.add.at(dencodings, anchor, danchor)
        np.add.at(dencodings, positive, dpositive)
        np.add.at(dencodings, negative, dnegative)
    else:
        first = np.concatenate([anchor, anchor])
        second = np.concatenate([positive, negative])
        same = np.arange(len(first)) < len(anchor)
        head = model.head
        loss, (dfirst, dsecond, dweight, dbias) = logistic_pair_loss(
            encodings[first], encodings[second], same,
            head.params["weight"], head.params["bias"])
        np.add.at(dencodings, first, dfirst)
        np.add.at(dencodings, second, dsecond)

    model.backward(dencodings)
    if config.loss == "binary":
        # The head is not on the forward chain, so its gradients come from the
        # loss directly; set them after backward, which leaves the head alone.
        model.head.grads["weight"] = dweight
        model.head.grads["bias"] = dbias
    optimizer.step()
    return loss, len(anchor)


def fit(model, images, labels, config, callback=None):
    """Train ``model`` on labelled images.

    Parameters
    ----------
    model : SiameseNetwork
    images : ndarray of shape (N, C, H, W), float32
    labels : ndarray of shape (N,), int
        Identities; ``UNKNOWN_LABEL`` images serve only as negatives.
    config : TrainConfig
    callback : callable, optional
        ``callback(epoch, step, steps_per_epoch, loss, triplets)`` after every
        step, for progress display.

    Returns
    -------
    list of dict
        Per epoch: ``epoch``, ``loss`` (mean over steps) and ``triplets``
        (mean mined per step).
    """
    config.validate()
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(
            f"fit: images and labels must have the same length, got {len(images)} "
            f"and {len(labels)}"
        )
    rng = np.random.default_rng(config.seed)
    optimizer = Adam(model.parameters(), lr=config.lr)
    batches = pk_batches(labels, config.classes_per_batch, config.images_per_class,
                         rng)
    schedule = CosineLR(config.lr, config.epochs * len(batches),
                        min_lr=config.lr / 20)

    model.train()
    history, step = [], 0
    for epoch in range(config.epochs):
        if epoch > 0:
            batches = pk_batches(labels, config.classes_per_batch,
                                 config.images_per_class, rng)
        losses, counts = [], []
        for index, batch in enumerate(batches):
            apply(optimizer, schedule, step)
            batch_images = random_shift(images[batch], config.max_shift, rng)
            loss, triplets = train_step(model, optimizer, batch_images, labels[batch],
                                        config, rng)
            losses.append(loss)
            counts.append(triplets)
            step += 1
            if callback is not None:
                callback(epoch, index, len(batches), loss, triplets)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                        "triplets": float(np.mean(counts))})
    model.eval()
    return history
