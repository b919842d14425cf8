"""ROC, AUC, thresholds, TAR at FAR and one-shot accuracy against simple references."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnscratch.siamese import metrics


def rank_sum_auc(distances, same):
    """P(d_same < d_different) + P(tie) / 2 over all same x different pairs."""
    same_distances = distances[same]
    different_distances = distances[~same]
    smaller = (same_distances[:, None] < different_distances[None, :]).sum()
    ties = (same_distances[:, None] == different_distances[None, :]).sum()
    return (smaller + 0.5 * ties) / (len(same_distances) * len(different_distances))


def brute_force_best_accuracy(distances, same):
    candidates = np.concatenate([[-np.inf], np.unique(distances)])
    return max(metrics.accuracy_at(distances, same, tau) for tau in candidates)


@st.composite
def scored_pairs(draw):
    M = draw(st.integers(2, 30))
    # Few distinct values, so ties are common.
    distances = np.array(draw(st.lists(st.integers(0, 6), min_size=M, max_size=M)),
                         dtype=np.float64) / 4
    same = np.array(draw(st.lists(st.booleans(), min_size=M, max_size=M)))
    same[0], same[1] = True, False
    return distances, same


@given(scored_pairs())
def test_auc_equals_rank_sum(pairs):
    distances, same = pairs
    assert metrics.roc_auc(distances, same) == pytest.approx(
        rank_sum_auc(distances, same), abs=1e-12)


@given(scored_pairs())
def test_roc_curve_counts_match_threshold_rule(pairs):
    distances, same = pairs
    far, tar, thresholds = metrics.roc_curve(distances, same)
    assert far[0] == 0
    assert tar[0] == 0
    assert far[-1] == 1
    assert tar[-1] == 1
    assert (np.diff(far) >= 0).all()
    assert (np.diff(tar) >= 0).all()
    for rate_far, rate_tar, tau in zip(far, tar, thresholds):
        accepted = distances <= tau
        assert rate_tar == pytest.approx(accepted[same].mean())
        assert rate_far == pytest.approx(accepted[~same].mean())


@given(scored_pairs())
def test_best_threshold_maximises_accuracy(pairs):
    distances, same = pairs
    tau, accuracy = metrics.best_threshold(distances, same)
    assert accuracy == pytest.approx(metrics.accuracy_at(distances, same, tau))
    assert accuracy == pytest.approx(brute_force_best_accuracy(distances, same))


def test_best_threshold_lies_between_classes():
    distances = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    same = np.array([True, True, True, False, False])
    tau, accuracy = metrics.best_threshold(distances, same)
    assert accuracy == 1.0
    assert tau == pytest.approx(0.6)


def test_kfold_threshold_maximises_accuracy_on_its_folds():
    rng = np.random.default_rng(0)
    same = rng.random(200) < 0.5
    distances = np.where(same, rng.normal(1.0, 0.4, 200), rng.normal(2.0, 0.4, 200))
    result = metrics.kfold_threshold(distances, same, folds=5,
                                     rng=np.random.default_rng(1))
    assert len(result.fold_accuracies) == 5
    assert sorted(np.bincount(result.folds)) == [40] * 5
    for fold, tau in enumerate(result.fold_thresholds):
        training = result.folds != fold
        chosen = metrics.accuracy_at(distances[training], same[training], tau)
        best = brute_force_best_accuracy(distances[training], same[training])
        assert chosen == pytest.approx(best)
        held_out = result.folds == fold
        assert result.fold_accuracies[fold] == pytest.approx(
            metrics.accuracy_at(distances[held_out], same[held_out], tau))
    assert result.accuracy == pytest.approx(np.mean(result.fold_accuracies))
    assert 0.8 < result.accuracy <= 1.0


def test_tar_at_far_equals_brute_force():
    rng = np.random.default_rng(2)
    same = np.arange(3000) < 1000
    distances = np.where(same, rng.normal(1, 0.5, 3000), rng.normal(3, 0.5, 3000))
    for target in (1e-3, 1e-2, 0.1):
        tar, tau = metrics.tar_at_far(distances, same, far=target)
        best = 0.0
        for candidate in np.unique(distances):
            accepted = distances <= candidate
            if accepted[~same].mean() <= target:
                best = max(best, accepted[same].mean())
        assert tar == pytest.approx(best)
        assert (distances[~same] <= tau).mean() <= target


def test_tar_at_far_warns_with_few_negatives():
    distances = np.array([0.1, 0.2, 0.9])
    same = np.array([True, True, False])
    with pytest.warns(UserWarning, match="different pairs"):
        tar, tau = metrics.tar_at_far(distances, same, far=1e-3)
    assert tar == 1.0
    assert tau == pytest.approx(0.2)


def test_metrics_reject_single_class_pairs():
    with pytest.raises(ValueError, match="both same and different"):
        metrics.roc_auc(np.array([0.1, 0.2]), np.array([True, True]))


def test_auc_matches_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics",
                                          reason="scikit-learn is an optional oracle")
    rng = np.random.default_rng(3)
    same = rng.random(500) < 0.4
    distances = np.round(np.where(same, rng.normal(1, 1, 500), rng.normal(2, 1, 500)), 1)
    # scikit-learn ranks scores where larger means positive, so negate distances.
    expected = sklearn_metrics.roc_auc_score(same, -distances)
    assert metrics.roc_auc(distances, same) == pytest.approx(expected, abs=1e-12)


def test_sample_pairs_are_balanced_and_valid():
    labels = np.array([0, 0, 0, 1, 1, 2, -1])
    first, second, same = metrics.sample_pairs(labels, 400, np.random.default_rng(4))
    assert same.sum() == 200
    assert (first != second).all()
    assert (labels[first[same]] == labels[second[same]]).all()
    assert (labels[first[same]] >= 0).all()
    different = ~same
    unknown = (labels[first] < 0) | (labels[second] < 0)
    assert ((labels[first] != labels[second]) | unknown)[different].all()


def test_sample_pairs_queries_come_first():
    labels = np.array([0, 0, 1, 1, 2, 2])
    queries = np.array([1, 4])
    first, _, _ = metrics.sample_pairs(labels, 100, np.random.default_rng(5),
                                       queries=queries)
    assert set(first.tolist()) <= {1, 4}


def test_one_shot_perfect_for_separated_identities():
    rng = np.random.default_rng(6)
    labels = np.repeat(np.arange(5), 6)
    centres = np.eye(5) * 10
    embeddings = centres[labels] + rng.normal(0, 0.1, (30, 5))
    accuracy = metrics.one_shot_accuracy(embeddings, labels, ways=3, trials=300,
                                         rng=rng)
    assert accuracy == 1.0


def test_one_shot_near_chance_for_random_encodings():
    rng = np.random.default_rng(7)
    labels = np.repeat(np.arange(6), 20)
    embeddings = rng.standard_normal((120, 8))
    accuracy = metrics.one_shot_accuracy(embeddings, labels, ways=3, trials=3000,
                                         rng=rng)
    # Chance is 1/3; 3,000 trials give a standard error of about 0.009.
    assert abs(accuracy - 1 / 3) < 0.05


def test_one_shot_never_uses_support_as_query():
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    embeddings = np.arange(8, dtype=np.float64)[:, None]  # one value per image
    calls = []

    def recording_score(query, supports):
        calls.append((query[0, 0], supports[:, 0].copy()))
        return ((supports - query) ** 2).sum(axis=1)

    metrics.one_shot_accuracy(embeddings, labels, ways=3, trials=100,
                              rng=np.random.default_rng(8), score=recording_score)
    assert len(calls) == 100
    for query, supports in calls:
        assert query not in supports


def test_one_shot_rejects_too_many_ways():
    labels = np.repeat(np.arange(3), 2)
    with pytest.raises(ValueError, match="ways"):
        metrics.one_shot_accuracy(np.zeros((6, 2)), labels, ways=4)
