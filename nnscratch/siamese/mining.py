"""Triplet choice within a batch: random, batch-hard and semi-hard.

Random triplets are mostly too easy: d(a, n) already exceeds d(a, p) + alpha,
their loss is 0 and they teach nothing. Mining picks triplets whose distances
are close, d(a, p) ~ d(a, n), so each step spends its time where the loss has
a gradient.

Every function takes the batch's labels and returns three index arrays
``(anchor, positive, negative)`` into the batch. A positive has the anchor's
label and another index. A negative has a different label. The label
``UNKNOWN_LABEL`` (-1) marks images of unnamed identities ("new_whale" in the
humpback-whale data): such an image is never an anchor or a positive, and is a
negative for every other image, including other unknown ones.
"""

import numpy as np

UNKNOWN_LABEL = -1
STRATEGIES = ("random", "hard", "semi-hard")


def _check_labels(labels, size=None):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels must be a 1-D array of integers, got dtype {labels.dtype} and "
            f"shape {labels.shape}"
        )
    if size is not None and len(labels) != size:
        raise ValueError(
            f"labels must have one entry per row of the distance matrix ({size}), "
            f"got {len(labels)}"
        )
    return labels


def pair_masks(labels):
    """Return boolean (N, N) masks of valid positive and negative pairs.

    ``positive[i, j]`` is True when i != j and both images show the same known
    identity. ``negative[i, j]`` is True when i != j and the pair is not
    positive, which includes every pair with an unknown image.
    """
    labels = _check_labels(labels)
    equal = labels[:, None] == labels[None, :]  # (N, N)
    known = labels >= 0
    distinct = ~np.eye(len(labels), dtype=bool)
    positive = equal & known[:, None] & distinct
    negative = distinct & ~positive
    return positive, negative


def pairwise_distances(embeddings, squared=True):
    """Return the (N, N) matrix of distances between all rows.

    Parameters
    ----------
    embeddings : ndarray of shape (N, D), float
    squared : bool
        ||x_i - x_j||^2 if True, else ||x_i - x_j||.

    Returns
    -------
    ndarray of shape (N, N), float
        Symmetric, with an exact zero diagonal and no negative entries.
    """
    if not isinstance(embeddings, np.ndarray) or embeddings.ndim != 2:
        raise ValueError(
            "pairwise_distances: embeddings must be an ndarray of shape (N, D), got "
            f"{getattr(embeddings, 'shape', type(embeddings).__name__)}"
        )
    norms = (embeddings * embeddings).sum(axis=1)
    # ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y; rounding can make it slightly
    # negative, so clip at 0.
    distances = norms[:, None] + norms[None, :] - 2 * embeddings @ embeddings.T
    distances = np.maximum(distances, 0)
    np.fill_diagonal(distances, 0)
    return distances if squared else np.sqrt(distances)


def random_triplets(labels, rng=None):
    """Pick one triplet per usable anchor, positive and negative at random.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    rng : numpy.random.Generator, optional

    Returns
    -------
    anchor, positive, negative : ndarray of shape (T,), int64
        One triplet for each image that has at least one positive and one
        negative in the batch.
    """
    rng = rng if rng is not None else np.random.default_rng()
    positive, negative = pair_masks(labels)
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    chosen_positive = np.empty(len(anchors), dtype=np.int64)
    chosen_negative = np.empty(len(anchors), dtype=np.int64)
    for row, anchor in enumerate(anchors):
        chosen_positive[row] = rng.choice(np.flatnonzero(positive[anchor]))
        chosen_negative[row] = rng.choice(np.flatnonzero(negative[anchor]))
    return anchors.astype(np.int64), chosen_positive, chosen_negative


def batch_hard_triplets(distances, labels):
    """Pick, for each anchor, its farthest positive and its nearest negative.

    Parameters
    ----------
    distances : ndarray of shape (N, N), float
        From ``pairwise_distances``.
    labels : ndarray of shape (N,), int

    Returns
    -------
    anchor, positive, negative : ndarray of shape (T,), int64
        One triplet for each image that has at least one positive and one
        negative. Ties go to the lowest index.

    References
    ----------
    Hermans, Beyer and Leibe, "In Defense of the Triplet Loss for Person
    Re-Identification", 2017.
    """
    labels = _check_labels(labels, len(distances))
    positive, negative = pair_masks(labels)
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))

    positive_distances = np.where(positive, distances, -np.inf)[anchors]  # (T, N)
    negative_distances = np.where(negative, distances, np.inf)[anchors]  # (T, N)
    hardest_positive = positive_distances.argmax(axis=1)
    hardest_negative = negative_distances.argmin(axis=1)
    return anchors.astype(np.int64), hardest_positive, hardest_negative


def semi_hard_triplets(distances, labels, margin):
    """Pick semi-hard triplets: d(a, p) < d(a, n) < d(a, p) + margin.

    Every anchor-positive pair of the batch is considered. Its negative is the
    nearest one inside that band, so the triplet is as hard as possible while
    the negative stays farther than the positive. A pair with no negative in
    the band gives no triplet.

    Parameters
    ----------
    distances : ndarray of shape (N, N), float
        From ``pairwise_distances``, measured as the loss measures them.
    labels : ndarray of shape (N,), int
    margin : float
        alpha of the triplet loss.

    Returns
    -------
    anchor, positive, negative : ndarray of shape (T,), int64
        Ordered by anchor, then positive. Ties go to the lowest index. Each
        triplet has a loss in (0, margin).

    Notes
    -----
    Negatives nearer than the positive (hard negatives) are left out. They give
    the largest gradients, and early in training they can pull every encoding
    to one point.

    References
    ----------
    Schroff, Kalenichenko and Philbin, "FaceNet: A Unified Embedding for Face
    Recognition and Clustering", CVPR 2015.
    """
    labels = _check_labels(labels, len(distances))
    positive, negative = pair_masks(labels)
    anchors, positives = np.nonzero(positive)  # all (a, p) pairs, row-major

    positive_distance = distances[anchors, positives][:, None]  # (P, 1)
    candidate = distances[anchors]  # (P, N)
    band = (negative[anchors] & (candidate > positive_distance)
            & (candidate < positive_distance + margin))
    has_negative = band.any(axis=1)
    nearest = np.where(band, candidate, np.inf).argmin(axis=1)
    return (anchors[has_negative].astype(np.int64),
            positives[has_negative].astype(np.int64),
            nearest[has_negative].astype(np.int64))


def mine_triplets(embeddings, labels, strategy, margin=0.2, squared=True, rng=None):
    """Choose the batch's triplets with one of ``STRATEGIES``.

    Parameters
    ----------
    embeddings : ndarray of shape (N, D), float
    labels : ndarray of shape (N,), int
    strategy : {"random", "hard", "semi-hard"}
        "hard" is batch-hard.
    margin : float
        alpha, used by "semi-hard".
    squared : bool
        Whether distances are squared, as in the loss.
    rng : numpy.random.Generator, optional
        Used by "random".

    Returns
    -------
    anchor, positive, negative : ndarray of shape (T,), int64
    """
    if strategy == "random":
        return random_triplets(labels, rng)
    if strategy not in STRATEGIES:
        raise ValueError(
            f"mine_triplets: strategy must be one of {STRATEGIES}, got {strategy!r}"
        )
    distances = pairwise_distances(embeddings, squared=squared)
    if strategy == "hard":
        return batch_hard_triplets(distances, labels)
    return semi_hard_triplets(distances, labels, margin)
