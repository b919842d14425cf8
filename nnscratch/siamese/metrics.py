"""Verification and one-shot identification metrics on pair distances.

Convention: every function takes a dissimilarity per pair (a distance, small
for the same identity) and a boolean ``same`` per pair. A threshold tau
predicts "same" when distance <= tau. The true accept rate (TAR, also the
true positive rate) is the share of same pairs accepted, and the false accept
rate (FAR, also the false positive rate) is the share of different pairs
accepted.
"""

import dataclasses
import warnings

import numpy as np


def _check_pairs(distances, same, name):
    distances = np.asarray(distances, dtype=np.float64)
    same = np.asarray(same)
    if distances.ndim != 1 or same.shape != distances.shape:
        raise ValueError(
            f"{name}: distances and same must be 1-D arrays of equal length, got "
            f"shapes {distances.shape} and {same.shape}"
        )
    if same.dtype != bool:
        if not np.isin(same, (0, 1)).all():
            raise ValueError(f"{name}: same must be boolean or 0/1, got {same[:5]!r}...")
        same = same.astype(bool)
    if not np.isfinite(distances).all():
        raise ValueError(f"{name}: distances contain NaN or infinity")
    if same.all() or not same.any():
        raise ValueError(
            f"{name} needs both same and different pairs, got {int(same.sum())} "
            f"same of {len(same)}"
        )
    return distances, same


def roc_curve(distances, same):
    """Compute the ROC curve of the rule "same if distance <= tau".

    Parameters
    ----------
    distances : ndarray of shape (M,), float
    same : ndarray of shape (M,), bool

    Returns
    -------
    far : ndarray of shape (K + 1,), float64
        False accept rate at each threshold, non-decreasing from 0 to 1.
    tar : ndarray of shape (K + 1,), float64
        True accept rate at each threshold, non-decreasing from 0 to 1.
    thresholds : ndarray of shape (K + 1,), float64
        -inf (accept nothing), then the K distinct distances in increasing
        order. Tied distances move the curve in one diagonal step.
    """
    distances, same = _check_pairs(distances, same, "roc_curve")
    order = np.argsort(distances, kind="stable")
    sorted_distances = distances[order]
    accepted_same = np.cumsum(same[order])
    accepted_different = np.cumsum(~same[order])

    # The last index of each run of equal distances: a threshold accepts all
    # of a tie or none of it.
    last_of_run = np.flatnonzero(np.diff(sorted_distances, append=np.inf) > 0)
    tar = np.concatenate([[0.0], accepted_same[last_of_run] / same.sum()])
    far = np.concatenate([[0.0], accepted_different[last_of_run] / (~same).sum()])
    thresholds = np.concatenate([[-np.inf], sorted_distances[last_of_run]])
    return far, tar, thresholds


def roc_auc(distances, same):
    """Return the area under the ROC curve, by the trapezoid rule.

    It equals the probability that a random same pair has a smaller distance
    than a random different pair, counting ties as one half (the Mann-Whitney
    U statistic divided by the number of same x different pairs).
    """
    far, tar, _ = roc_curve(distances, same)
    return float(np.trapezoid(tar, far))


def accuracy_at(distances, same, tau):
    """Return the share of pairs that "same if distance <= tau" gets right."""
    distances, same = np.asarray(distances), np.asarray(same, dtype=bool)
    return float(((distances <= tau) == same).mean())


def best_threshold(distances, same):
    """Choose the threshold tau that maximises accuracy on the given pairs.

    Parameters
    ----------
    distances : ndarray of shape (M,), float
    same : ndarray of shape (M,), bool

    Returns
    -------
    tau : float
        Midway between the last accepted distance and the next larger one, so
        small shifts of new distances do not flip the decision. It is below
        every distance when accepting nothing is best, and equals the largest
        distance when accepting everything is best. Among equally accurate
        thresholds, the smallest one wins.
    accuracy : float
        Accuracy of tau on these pairs.
    """
    distances, same = _check_pairs(distances, same, "best_threshold")
    far, tar, thresholds = roc_curve(distances, same)
    positives, negatives = same.sum(), (~same).sum()
    correct = tar * positives + (1 - far) * negatives
    best = int(np.argmax(correct))

    distinct = thresholds[1:]
    if best == 0:
        tau = distinct[0] - max(1.0, abs(distinct[0])) * 1e-6
    elif best == len(distinct):
        tau = distinct[-1]
    else:
        tau = (distinct[best - 1] + distinct[best]) / 2
    return float(tau), float(correct[best] / len(same))


@dataclasses.dataclass
class KFoldResult:
    """Accuracy of an accuracy-maximising threshold under k-fold validation.

    Attributes
    ----------
    accuracy, accuracy_std : float
        Mean and standard deviation of the held-out folds' accuracies.
    threshold : float
        tau chosen on all pairs, for later use.
    fold_accuracies, fold_thresholds : list of float
        Per fold: the accuracy on the held-out fold, of tau chosen on the
        other folds.
    folds : ndarray of shape (M,), int
        The fold of each pair.
    """

    accuracy: float
    accuracy_std: float
    threshold: float
    fold_accuracies: list
    fold_thresholds: list
    folds: np.ndarray


def kfold_threshold(distances, same, folds=10, rng=None):
    """Measure verification accuracy as in the LFW protocol: tau from k - 1 folds.

    The pairs are shuffled into ``folds`` parts. For each part, tau is the
    accuracy-maximising threshold of the other parts, and the accuracy is
    measured on the part itself, so no pair scores a threshold it helped
    choose.

    Parameters
    ----------
    distances : ndarray of shape (M,), float
    same : ndarray of shape (M,), bool
    folds : int
        At least 2.
    rng : numpy.random.Generator, optional
        Shuffles pairs into folds.

    Returns
    -------
    KFoldResult

    References
    ----------
    Huang, Ramesh, Berg and Learned-Miller, "Labeled Faces in the Wild: A
    Database for Studying Face Recognition in Unconstrained Environments",
    2007.
    """
    distances, same = _check_pairs(distances, same, "kfold_threshold")
    if not isinstance(folds, (int, np.integer)) or not 2 <= folds <= len(same):
        raise ValueError(
            f"kfold_threshold: folds must be an int in [2, {len(same)}], got {folds!r}"
        )
    rng = rng if rng is not None else np.random.default_rng(0)
    assignment = np.empty(len(same), dtype=np.int64)
    assignment[rng.permutation(len(same))] = np.arange(len(same)) % folds

    accuracies, thresholds = [], []
    for fold in range(folds):
        held_out = assignment == fold
        tau, _ = best_threshold(distances[~held_out], same[~held_out])
        thresholds.append(tau)
        accuracies.append(accuracy_at(distances[held_out], same[held_out], tau))
    tau_all, _ = best_threshold(distances, same)
    return KFoldResult(float(np.mean(accuracies)), float(np.std(accuracies)),
                       tau_all, accuracies, thresholds, assignment)


def tar_at_far(distances, same, far=1e-3):
    """Return the true accept rate at the largest threshold whose FAR <= ``far``.

    Parameters
    ----------
    distances : ndarray of shape (M,), float
    same : ndarray of shape (M,), bool
    far : float
        Target false accept rate in [0, 1].

    Returns
    -------
    tar : float
    tau : float
        The threshold reached; -inf when even the smallest distance exceeds
        the FAR budget.

    Warns
    -----
    UserWarning
        With fewer than 1 / far different pairs, where a single false accept
        already passes the target, so the estimate is coarse.
    """
    distances, same = _check_pairs(distances, same, "tar_at_far")
    if not 0 <= far <= 1:
        raise ValueError(f"tar_at_far: far must be in [0, 1], got {far!r}")
    negatives = int((~same).sum())
    if negatives * far < 1:
        warnings.warn(
            f"tar_at_far: only {negatives} different pairs, so FAR {far:g} allows no "
            f"false accept at all; use at least {int(np.ceil(1 / far))} different "
            "pairs for a finer estimate", stacklevel=2)
    rates, tar, thresholds = roc_curve(distances, same)
    allowed = np.flatnonzero(rates <= far)[-1]
    return float(tar[allowed]), float(thresholds[allowed])


def sample_pairs(labels, num_pairs, rng=None, queries=None):
    """Draw a balanced set of same and different pairs of image indices.

    Parameters
    ----------
    labels : ndarray of shape (N,), int
        Identities; negative labels are unknown identities, never in a same
        pair.
    num_pairs : int
        Total pairs, half same and half different (with repeats when the
        data has fewer distinct pairs).
    rng : numpy.random.Generator, optional
    queries : ndarray of int, optional
        If given, the first image of every pair comes from these indices (such
        as validation images) and the second from all N.

    Returns
    -------
    first, second : ndarray of shape (num_pairs,), int64
        first != second in every pair.
    same : ndarray of shape (num_pairs,), bool
    """
    rng = rng if rng is not None else np.random.default_rng()
    labels = np.asarray(labels)
    queries = np.arange(len(labels)) if queries is None else np.asarray(queries)
    groups = {label: np.flatnonzero(labels == label)
              for label in np.unique(labels) if label >= 0}
    with_partner = np.array([q for q in queries
                             if labels[q] >= 0 and len(groups[labels[q]]) > 1],
                            dtype=np.int64)
    if len(with_partner) == 0 or len(groups) < 2:
        raise ValueError(
            "sample_pairs needs at least two identities and one identity with two "
            f"images among the queries, got {len(groups)} identities"
        )
    half = num_pairs // 2

    first_same = rng.choice(with_partner, half)
    second_same = np.empty(half, dtype=np.int64)
    for row, query in enumerate(first_same):
        partners = groups[labels[query]]
        second_same[row] = rng.choice(partners[partners != query])

    first_different = rng.choice(queries, num_pairs - half)
    second_different = np.empty(num_pairs - half, dtype=np.int64)
    for row, query in enumerate(first_different):
        while True:
            other = rng.integers(len(labels))
            if other != query and (labels[other] != labels[query] or labels[query] < 0):
                break
        second_different[row] = other

    first = np.concatenate([first_same, first_different]).astype(np.int64)
    second = np.concatenate([second_same, second_different])
    same = np.arange(num_pairs) < half
    return first, second, same


def one_shot_accuracy(embeddings, labels, ways=3, trials=2000, rng=None,
                      score=None):
    """Estimate N-way one-shot identification accuracy.

    Each trial draws ``ways`` identities and one support image of each, then a
    query image of one of them (never its support image). The prediction is
    the identity whose support image has the smallest dissimilarity to the
    query.

    Parameters
    ----------
    embeddings : ndarray of shape (N, D), float
    labels : ndarray of shape (N,), int
        Unknown identities (negative labels) are left out.
    ways : int
        N of N-way, at least 2.
    trials : int
    rng : numpy.random.Generator, optional
    score : callable, optional
        ``score(query, supports) -> ndarray of shape (ways,)``, with ``query``
        of shape (1, D) and ``supports`` of shape (ways, D). Defaults to the
        squared Euclidean distance. Ties go to the first support.

    Returns
    -------
    float
        Share of trials identified correctly; chance is 1 / ways.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    labels = np.asarray(labels)
    if score is None:
        def score(query, supports):
            return ((supports - query) ** 2).sum(axis=1)
    groups = [np.flatnonzero(labels == label) for label in np.unique(labels)
              if label >= 0]
    groups = [group for group in groups if len(group) >= 2]
    if not isinstance(ways, (int, np.integer)) or not 2 <= ways <= len(groups):
        raise ValueError(
            f"one_shot_accuracy: ways must be an int in [2, {len(groups)}] (the "
            f"identities with at least two images), got {ways!r}"
        )

    correct = 0
    for _ in range(trials):
        chosen = rng.choice(len(groups), ways, replace=False)
        target = rng.integers(ways)
        supports = np.empty(ways, dtype=np.int64)
        for slot, group_index in enumerate(chosen):
            supports[slot] = rng.choice(groups[group_index])
        target_group = groups[chosen[target]]
        query = rng.choice(target_group[target_group != supports[target]])
        scores = score(embeddings[query][None, :], embeddings[supports])
        correct += int(np.argmin(scores) == target)
    return correct / trials
