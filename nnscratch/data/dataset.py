"""In-memory datasets and splits, in the form ``nnscratch.trainer.Trainer`` reads.

A dataset for the trainer is any object with ``__len__`` and
``batch(indices, rng, train) -> (x, target)``. ``ArrayDataset`` is that object
for arrays already in memory; a detector writes its own to encode boxes.
"""

import numpy as np


class ArrayDataset:
    """Inputs and targets held as arrays, with optional training augmentation.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32
    target : ndarray of shape (N, ...)
        Class labels or any per-sample target.
    augment : callable, optional
        ``augment(x, rng) -> x`` applied to training batches only, for example
        from ``nnscratch.data.augment.compose``. A ``random_*`` function that
        returns ``(x, *params)`` works too; the parameters are dropped.
    """

    def __init__(self, x, target, augment=None):
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(
                f"ArrayDataset: x must be a numpy array with a sample axis, got "
                f"{type(x).__name__}"
            )
        target = np.asarray(target)
        if len(target) != len(x):
            raise ValueError(
                f"ArrayDataset: x has {len(x)} samples but target has {len(target)}"
            )
        if augment is not None and not callable(augment):
            raise TypeError(
                f"ArrayDataset: augment must be callable, got {type(augment).__name__}"
            )
        self.x = x
        self.target = target
        self.augment = augment

    def __len__(self):
        return len(self.x)

    def batch(self, indices, rng, train):
        """Return ``(x, target)`` for the samples at ``indices``.

        Parameters
        ----------
        indices : ndarray of shape (B,), int
        rng : numpy.random.Generator
            Drives the augmentation.
        train : bool
            Augment only when True.

        Returns
        -------
        x : ndarray of shape (B, C, H, W)
        target : ndarray of shape (B, ...)
        """
        x = self.x[indices]
        if train and self.augment is not None:
            x = self.augment(x, rng)
            if isinstance(x, tuple):
                x = x[0]
        return x, self.target[indices]


def stratified_split(labels, fractions, seed=0):
    """Split sample indices into parts with the same class proportions.

    Within each class the samples are shuffled by ``seed`` and cut at the
    cumulative fractions; the rounding remainder goes to the last part.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
    fractions : sequence of float
        One per part, summing to 1, e.g. (0.7, 0.1, 0.2).
    seed : int
        The split depends only on ``labels``, ``fractions`` and ``seed``.

    Returns
    -------
    tuple of ndarray of shape (n_i,), int64
        Sorted indices of each part; together they cover 0..N-1 exactly once.
    """
    labels = np.asarray(labels)
    fractions = np.asarray(fractions, dtype=np.float64)
    if labels.ndim != 1:
        raise ValueError(
            f"stratified_split: labels must be 1-D, got shape {labels.shape}"
        )
    if fractions.ndim != 1 or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-9:
        raise ValueError(
            f"stratified_split: fractions must be non-negative and sum to 1, "
            f"got {fractions.tolist()}"
        )
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    cumulative = np.cumsum(fractions)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        cuts = np.round(cumulative * len(members)).astype(np.int64)
        cuts[-1] = len(members)
        start = 0
        for part, stop in zip(parts, cuts):
            part.append(members[start:stop])
            start = stop
    return tuple(np.sort(np.concatenate(part)).astype(np.int64) for part in parts)
