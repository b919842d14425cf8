"""Anchor shapes chosen by k-means over the training boxes' widths and heights.

Two shapes are compared as if both boxes sat on a common centre, so only
width and height matter::

    IoU(a, b) = min(w_a, w_b) * min(h_a, h_b) / (w_a h_a + w_b h_b - inter)

and the clustering distance is d(a, b) = 1 - IoU(a, b), as in YOLOv2. With
this distance a large box and a small box of the same aspect ratio count as
different shapes, which Euclidean distance on (w, h) would weigh by size.

References
----------
Redmon and Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017.
Arthur and Vassilvitskii, "k-means++: The Advantages of Careful Seeding",
SODA 2007.
"""

import numpy as np


def shape_iou(wh1, wh2):
    """Compute the IoU of every pair of centre-aligned shapes.

    Parameters
    ----------
    wh1 : ndarray of shape (N, 2), float
        Widths and heights, all > 0.
    wh2 : ndarray of shape (M, 2), float

    Returns
    -------
    ndarray of shape (N, M), float64
    """
    wh1 = np.asarray(wh1, dtype=np.float64)
    wh2 = np.asarray(wh2, dtype=np.float64)
    inter = np.minimum(wh1[:, None, :], wh2[None, :, :]).prod(axis=-1)  # (N, M)
    union = wh1.prod(axis=1)[:, None] + wh2.prod(axis=1)[None, :] - inter
    return inter / union


def _kmeans_plus_plus(wh, k, rng):
    """Pick k starting centroids, each drawn with probability ∝ d(box, nearest)^2."""
    N = wh.shape[0]
    centroids = np.empty((k, 2), dtype=np.float64)
    centroids[0] = wh[rng.integers(N)]
    nearest = 1 - shape_iou(wh, centroids[:1])[:, 0]  # (N,)
    for index in range(1, k):
        weights = nearest**2
        total = weights.sum()
        # Fewer distinct shapes than k: every box already is a centroid, so
        # the draw is uniform and some centroids repeat. The update step
        # re-seeds the clusters that stay empty.
        if total > 0:
            choice = rng.choice(N, p=weights / total)
        else:
            choice = rng.integers(N)
        centroids[index] = wh[choice]
        distance = 1 - shape_iou(wh, centroids[index : index + 1])[:, 0]
        nearest = np.minimum(nearest, distance)
    return centroids


def _check_wh(wh):
    wh = np.asarray(wh)
    if wh.dtype.kind not in "iuf":
        raise TypeError(
            f"kmeans_anchors: wh must be real numbers, got dtype {wh.dtype}"
        )
    if wh.ndim != 2 or wh.shape[1] != 2:
        raise ValueError(
            f"kmeans_anchors: wh must have shape (N, 2), widths and heights, got "
            f"{wh.shape}; from xyxy boxes use boxes[:, 2:] - boxes[:, :2]"
        )
    wh = wh.astype(np.float64)
    if not np.isfinite(wh).all():
        index = int(np.argwhere(~np.isfinite(wh))[0, 0])
        raise ValueError(
            f"kmeans_anchors: wh[{index}] = {wh[index].tolist()} is not finite"
        )
    if (wh <= 0).any():
        index = int(np.argwhere(wh <= 0)[0, 0])
        raise ValueError(
            f"kmeans_anchors: wh[{index}] = {wh[index].tolist()} has zero or "
            "negative area; every box needs width > 0 and height > 0, so remove "
            "degenerate boxes first (remove_small_boxes)"
        )
    return wh


def kmeans_anchors(wh, k=5, seed=0, max_iter=300, init=None):
    """Cluster box shapes into ``k`` anchors with distance 1 - IoU.

    Parameters
    ----------
    wh : array_like of shape (N, 2)
        Box widths and heights, all > 0, in any unit (pixels, cells or
        fractions of the image); the anchors come back in the same unit.
    k : int, default 5
        Number of anchors, at most N.
    seed : int, default 0
        Seeds the k-means++ draws; the same seed gives the same anchors.
    max_iter : int, default 300
        Most assignment-update rounds; the loop stops earlier once no box
        changes cluster.
    init : array_like of shape (k, 2), optional
        Starting centroids in place of k-means++ seeding. They may repeat.

    Returns
    -------
    anchors : ndarray of shape (k, 2), float64
        Widths and heights, sorted by increasing area.
    mean_iou : float
        Mean over the boxes of the IoU with their best anchor.

    Notes
    -----
    Each round assigns every box to the centroid of highest IoU (the lowest
    index on ties) and moves each centroid to the mean shape of its boxes. A
    cluster left empty is re-seeded with the box farthest (in 1 - IoU) from
    every centroid. If every box already matches a centroid exactly, an empty
    cluster keeps its old centroid, so the anchors stay finite but repeat.
    """
    wh = _check_wh(wh)
    N = wh.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"kmeans_anchors: k must be a positive int, got {k!r}")
    if k > N:
        raise ValueError(
            f"kmeans_anchors: k={k} anchors need at least {k} boxes, got {N}"
        )
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(
            f"kmeans_anchors: max_iter must be a positive int, got {max_iter!r}"
        )

    rng = np.random.default_rng(seed)
    if init is None:
        centroids = _kmeans_plus_plus(wh, k, rng)
    else:
        centroids = _check_wh(init)
        if centroids.shape != (k, 2):
            raise ValueError(
                f"kmeans_anchors: init must have shape ({k}, 2), got "
                f"{centroids.shape}"
            )

    assignment = None
    for _ in range(max_iter):
        iou = shape_iou(wh, centroids)  # (N, k)
        new_assignment = iou.argmax(axis=1)
        if assignment is not None and np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        centroids = _update_centroids(wh, assignment, centroids)

    order = np.argsort(centroids.prod(axis=1), kind="stable")
    anchors = centroids[order]
    mean_iou = float(shape_iou(wh, anchors).max(axis=1).mean())
    return anchors, mean_iou


def _update_centroids(wh, assignment, centroids):
    """Move each centroid to its cluster's mean shape; re-seed empty ones."""
    k = centroids.shape[0]
    counts = np.bincount(assignment, minlength=k)
    sums = np.zeros((k, 2))
    np.add.at(sums, assignment, wh)

    updated = centroids.copy()
    filled = counts > 0
    updated[filled] = sums[filled] / counts[filled, None]
    if filled.all():
        return updated

    # Each empty cluster restarts at the box farthest from every centroid so
    # far, the re-seeded ones included, so two empty clusters never restart in
    # the same place unless the boxes leave no other choice.
    distance = 1 - shape_iou(wh, updated[filled]).max(axis=1)  # (N,)
    for index in np.flatnonzero(~filled):
        farthest = int(np.argmax(distance))
        if distance[farthest] <= 0:
            break
        updated[index] = wh[farthest]
        new_distance = 1 - shape_iou(wh, updated[index : index + 1])[:, 0]
        distance = np.minimum(distance, new_distance)
    return updated
