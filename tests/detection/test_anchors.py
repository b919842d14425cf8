"""k-means anchors with distance 1 - IoU."""

import numpy as np
import pytest

from nnscratch.detection import kmeans_anchors, shape_iou

SHAPES = np.array([[10.0, 30.0], [40.0, 40.0], [90.0, 25.0]])


def boxes_around(shapes, per_shape=40, jitter=0.05, seed=0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(1 - jitter, 1 + jitter, (len(shapes), per_shape, 2))
    return (shapes[:, None, :] * scale).reshape(-1, 2)


def test_shape_iou_known_values():
    iou = shape_iou(np.array([[2.0, 2.0]]), np.array([[1.0, 2.0], [4.0, 1.0]]))
    # Centred: (1 x 2) / 4 = 0.5; overlap 2 x 1 = 2 of union 4 + 4 - 2 = 6.
    np.testing.assert_allclose(iou, [[0.5, 1 / 3]])


def test_kmeans_recovers_three_known_shapes():
    wh = boxes_around(SHAPES)
    anchors, mean_iou = kmeans_anchors(wh, k=3, seed=0)
    expected = SHAPES[np.argsort(SHAPES.prod(axis=1))]
    np.testing.assert_allclose(anchors, expected, rtol=0.03)
    assert mean_iou > 0.9


def test_kmeans_sorts_anchors_by_area():
    anchors, _ = kmeans_anchors(boxes_around(SHAPES), k=3, seed=1)
    areas = anchors.prod(axis=1)
    assert (np.diff(areas) >= 0).all()


def test_kmeans_is_deterministic_for_a_seed():
    wh = np.random.default_rng(3).uniform(1, 50, (200, 2))
    first = kmeans_anchors(wh, k=5, seed=7)
    second = kmeans_anchors(wh, k=5, seed=7)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]


def test_kmeans_mean_iou_equals_loop():
    wh = np.random.default_rng(4).uniform(1, 50, (60, 2))
    anchors, mean_iou = kmeans_anchors(wh, k=4, seed=0)
    best = []
    for w, h in wh:
        ious = [min(w, aw) * min(h, ah) / (w * h + aw * ah - min(w, aw) * min(h, ah))
                for aw, ah in anchors]
        best.append(max(ious))
    assert mean_iou == pytest.approx(np.mean(best), rel=1e-12)


def test_kmeans_default_k_is_five():
    anchors, _ = kmeans_anchors(np.random.default_rng(5).uniform(1, 9, (30, 2)))
    assert anchors.shape == (5, 2)


def test_kmeans_duplicated_starting_centroids_give_finite_anchors():
    wh = boxes_around(SHAPES)
    init = np.repeat(SHAPES[:1], 3, axis=0)
    anchors, mean_iou = kmeans_anchors(wh, k=3, init=init)
    assert np.isfinite(anchors).all()
    # Re-seeding the empty clusters still finds the three shapes.
    expected = SHAPES[np.argsort(SHAPES.prod(axis=1))]
    np.testing.assert_allclose(anchors, expected, rtol=0.03)
    assert mean_iou > 0.9


def test_kmeans_fewer_distinct_shapes_than_k_gives_finite_anchors():
    wh = np.repeat(np.array([[2.0, 3.0], [5.0, 1.0]]), 5, axis=0)
    anchors, mean_iou = kmeans_anchors(wh, k=4, seed=0)
    assert anchors.shape == (4, 2)
    assert np.isfinite(anchors).all()
    assert mean_iou == pytest.approx(1.0)


def test_kmeans_tiny_cluster_keeps_its_outlier():
    wh = np.concatenate([np.full((50, 2), 10.0), [[200.0, 3.0]]])
    anchors, _ = kmeans_anchors(wh, k=2, seed=0)
    assert np.isfinite(anchors).all()
    np.testing.assert_allclose(anchors, [[10.0, 10.0], [200.0, 3.0]])


def test_kmeans_rejects_zero_area_box():
    wh = np.array([[1.0, 2.0], [3.0, 0.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match=r"wh\[1\].*zero or negative area"):
        kmeans_anchors(wh, k=2)


def test_kmeans_rejects_bad_arguments():
    wh = np.ones((4, 2))
    with pytest.raises(ValueError, match="at least 5 boxes"):
        kmeans_anchors(wh, k=5)
    with pytest.raises(ValueError, match="k must be a positive int"):
        kmeans_anchors(wh, k=0)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        kmeans_anchors(np.ones((4, 3)), k=2)
    with pytest.raises(ValueError, match="init must have shape"):
        kmeans_anchors(wh, k=2, init=np.ones((3, 2)))
    with pytest.raises(ValueError, match="not finite"):
        kmeans_anchors(np.array([[1.0, np.inf], [1.0, 1.0]]), k=1)
