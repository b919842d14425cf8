"""Triplet mining against brute-force loops over every triplet of a batch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnscratch.siamese.mining import (
    UNKNOWN_LABEL,
    batch_hard_triplets,
    mine_triplets,
    pair_masks,
    pairwise_distances,
    random_triplets,
    semi_hard_triplets,
)


def is_positive(labels, i, j):
    return i != j and labels[i] == labels[j] and labels[i] != UNKNOWN_LABEL


def is_negative(labels, i, j):
    return i != j and not is_positive(labels, i, j)


def all_triplets(labels):
    N = len(labels)
    for a in range(N):
        for p in range(N):
            for n in range(N):
                if is_positive(labels, a, p) and is_negative(labels, a, n):
                    yield a, p, n


def brute_force_batch_hard(distances, labels):
    best = {}
    for a, p, n in all_triplets(labels):
        hardest_p, hardest_n = best.get(a, (None, None))
        if hardest_p is None or distances[a, p] > distances[a, hardest_p]:
            hardest_p = p
        if hardest_n is None or distances[a, n] < distances[a, hardest_n]:
            hardest_n = n
        best[a] = (hardest_p, hardest_n)
    anchors = sorted(best)
    return ([a for a in anchors], [best[a][0] for a in anchors],
            [best[a][1] for a in anchors])


def brute_force_semi_hard(distances, labels, margin):
    best = {}
    for a, p, n in all_triplets(labels):
        if not distances[a, p] < distances[a, n] < distances[a, p] + margin:
            continue
        current = best.get((a, p))
        if current is None or distances[a, n] < distances[a, current]:
            best[(a, p)] = n
    pairs = sorted(best)
    return ([a for a, _ in pairs], [p for _, p in pairs], [best[k] for k in pairs])


@st.composite
def batches(draw):
    N = draw(st.integers(2, 9))
    labels = np.array(draw(st.lists(st.integers(-1, 2), min_size=N, max_size=N)))
    # Distinct grid values keep every comparison free of ties.
    points = draw(st.lists(st.integers(-20, 20), min_size=2 * N, max_size=2 * N,
                           unique=True))
    embeddings = np.array(points, dtype=np.float64).reshape(N, 2) / 10
    return embeddings, labels


def assert_same_triplets(mined, expected):
    for got, want in zip(mined, expected):
        np.testing.assert_array_equal(got, np.array(want, dtype=np.int64))


@given(batches())
def test_batch_hard_equals_brute_force(batch):
    embeddings, labels = batch
    distances = pairwise_distances(embeddings)
    mined = batch_hard_triplets(distances, labels)
    assert_same_triplets(mined, brute_force_batch_hard(distances, labels))


@given(batches(), st.sampled_from([0.05, 0.3, 1.0, 5.0]))
def test_semi_hard_equals_brute_force(batch, margin):
    embeddings, labels = batch
    distances = pairwise_distances(embeddings)
    mined = semi_hard_triplets(distances, labels, margin)
    assert_same_triplets(mined, brute_force_semi_hard(distances, labels, margin))


def test_batch_hard_hand_example():
    # Points on a line: identity 0 at 0, 1 and 5; identity 1 at 2 and 9.
    embeddings = np.array([[0.0], [1.0], [5.0], [2.0], [9.0]])
    labels = np.array([0, 0, 0, 1, 1])
    anchor, positive, negative = batch_hard_triplets(pairwise_distances(embeddings),
                                                     labels)
    np.testing.assert_array_equal(anchor, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(positive, [2, 2, 0, 4, 3])
    np.testing.assert_array_equal(negative, [3, 3, 3, 1, 2])


def test_semi_hard_respects_band_edges():
    # From anchor 0: d(a, p) = 1, negatives at exactly 1 (not farther), 1.5
    # (inside the band) and exactly 1 + margin = 2 (not inside).
    distances = np.array([
        [0.0, 1.0, 1.0, 1.5, 2.0],
        [1.0, 0.0, 9.0, 9.0, 9.0],
        [1.0, 9.0, 0.0, 9.0, 9.0],
        [1.5, 9.0, 9.0, 0.0, 9.0],
        [2.0, 9.0, 9.0, 9.0, 0.0],
    ])
    labels = np.array([0, 0, 1, 2, 3])
    anchor, positive, negative = semi_hard_triplets(distances, labels, margin=1.0)
    np.testing.assert_array_equal(anchor, [0])
    np.testing.assert_array_equal(positive, [1])
    np.testing.assert_array_equal(negative, [3])


def test_semi_hard_triplets_have_loss_inside_margin():
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((30, 4))
    labels = rng.integers(0, 4, 30)
    distances = pairwise_distances(embeddings)
    anchor, positive, negative = semi_hard_triplets(distances, labels, margin=0.5)
    losses = distances[anchor, positive] - distances[anchor, negative] + 0.5
    assert len(anchor) > 0
    assert (losses > 0).all()
    assert (losses < 0.5).all()


def test_random_triplets_are_valid():
    rng = np.random.default_rng(1)
    labels = np.array([0, 0, 1, 1, 1, 2, UNKNOWN_LABEL, UNKNOWN_LABEL])
    anchor, positive, negative = random_triplets(labels, rng)
    # Identity 2 has one image and unknown images have no positive.
    np.testing.assert_array_equal(anchor, [0, 1, 2, 3, 4])
    for a, p, n in zip(anchor, positive, negative):
        assert is_positive(labels, a, p)
        assert is_negative(labels, a, n)


def test_random_triplets_reach_every_negative():
    labels = np.array([0, 0, 1, 2, UNKNOWN_LABEL])
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(200):
        _, _, negative = random_triplets(labels, rng)
        seen.update(negative.tolist())
    assert seen == {2, 3, 4}


def test_unknown_images_are_negatives_of_each_other():
    labels = np.array([UNKNOWN_LABEL, UNKNOWN_LABEL, 0])
    positive, negative = pair_masks(labels)
    assert not positive.any()
    assert negative[0, 1]
    assert negative[1, 0]
    assert not negative[0, 0]


def test_pairwise_distances_match_loop():
    rng = np.random.default_rng(3)
    embeddings = rng.standard_normal((6, 3))
    squared = pairwise_distances(embeddings)
    plain = pairwise_distances(embeddings, squared=False)
    for i in range(6):
        for j in range(6):
            expected = ((embeddings[i] - embeddings[j]) ** 2).sum()
            assert squared[i, j] == pytest.approx(expected, abs=1e-12)
            assert plain[i, j] == pytest.approx(np.sqrt(expected), abs=1e-6)
    assert (np.diag(squared) == 0).all()


def test_mine_triplets_dispatches_and_rejects_unknown():
    rng = np.random.default_rng(4)
    embeddings = rng.standard_normal((8, 2))
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    hard = mine_triplets(embeddings, labels, "hard")
    expected = batch_hard_triplets(pairwise_distances(embeddings), labels)
    assert_same_triplets(hard, expected)
    with pytest.raises(ValueError, match="strategy"):
        mine_triplets(embeddings, labels, "hardest")


def test_mining_rejects_float_labels():
    with pytest.raises(TypeError, match="labels"):
        batch_hard_triplets(np.zeros((2, 2)), np.array([0.0, 1.0]))
