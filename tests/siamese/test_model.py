"""The embedding network: L2 normalisation, shared weights, registry, checkpoints."""

import numpy as np
import pytest
from gradcheck import check_layer_gradients, numerical_gradient

from nnscratch import load_checkpoint, save_checkpoint
from nnscratch.siamese.losses import logistic_pair_loss, triplet_loss
from nnscratch.siamese.model import (
    L2Normalize,
    build_siamese_network,
    embed,
    pair_logits,
    pair_scores,
)
from nnscratch.zoo import build_model, load_model, model_spec


def tiny_network(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    model = build_siamese_network(image_size=6, channels=(2,), hidden_size=5,
                                  embedding_size=3, rng=rng)
    return model.astype(dtype)


def test_l2_normalize_output_has_unit_rows():
    x = np.random.default_rng(0).standard_normal((7, 5))
    out = L2Normalize().forward(x)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-12)


def test_l2_normalize_zero_row_stays_finite():
    out = L2Normalize().forward(np.zeros((2, 3)))
    assert np.isfinite(out).all()
    assert not out.any()


def test_l2_normalize_gradient_matches_numerical():
    x = np.random.default_rng(1).standard_normal((4, 6))
    check_layer_gradients(L2Normalize(), x)


def test_l2_normalize_gradient_orthogonal_to_output():
    layer = L2Normalize()
    x = np.random.default_rng(2).standard_normal((3, 4))
    out = layer.forward(x)
    dx = layer.backward(np.random.default_rng(3).standard_normal((3, 4)))
    # Moving along y = x / |x| only changes the discarded length.
    np.testing.assert_allclose((dx * out).sum(axis=1), 0, atol=1e-12)


def test_l2_normalize_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        L2Normalize().backward(np.ones((1, 2)))


def test_embeddings_have_unit_norm_and_shape():
    model = build_siamese_network(image_size=8, channels=(4,), hidden_size=6,
                                  embedding_size=5, rng=np.random.default_rng(0))
    images = np.random.default_rng(1).random((11, 1, 8, 8), dtype=np.float32)
    encodings = embed(model, images, batch_size=4)
    assert encodings.shape == (11, 5)
    assert encodings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(encodings, axis=1), 1, rtol=1e-5)


def test_embed_in_chunks_equals_one_batch():
    model = build_siamese_network(image_size=8, channels=(4,), hidden_size=6,
                                  embedding_size=5, rng=np.random.default_rng(0))
    images = np.random.default_rng(1).random((9, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(embed(model, images, batch_size=2),
                               embed(model, images, batch_size=64), rtol=1e-5,
                               atol=1e-6)


def test_triplet_loss_gradient_through_shared_network():
    model = tiny_network()
    images = np.random.default_rng(4).random((6, 1, 6, 6))
    anchor, positive, negative = np.array([0, 1]), np.array([2, 3]), np.array([4, 5])

    def loss(_=None):
        encodings = model.forward(images)
        return triplet_loss(encodings[anchor], encodings[positive],
                            encodings[negative], margin=1.5)[0]

    encodings = model.forward(images)
    value, (danchor, dpositive, dnegative) = triplet_loss(
        encodings[anchor], encodings[positive], encodings[negative], margin=1.5)
    assert value > 0
    dencodings = np.zeros_like(encodings)
    np.add.at(dencodings, anchor, danchor)
    np.add.at(dencodings, positive, dpositive)
    np.add.at(dencodings, negative, dnegative)
    model.backward(dencodings)

    checked = 0
    for parameter in model.parameters():
        if parameter.grad is None:
            continue
        numeric = numerical_gradient(loss, parameter.data)
        # Float64, step 1e-6: truncation and rounding errors stay below 1e-8.
        np.testing.assert_allclose(parameter.grad, numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=parameter.name)
        checked += 1
    assert checked == 8  # conv, batch norm and two linear layers, weight + bias


def test_one_batch_backward_sums_both_branches():
    model = tiny_network(seed=5).eval()
    rng = np.random.default_rng(6)
    first, second = rng.random((3, 1, 6, 6)), rng.random((3, 1, 6, 6))
    dfirst, dsecond = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))

    model.forward(np.concatenate([first, second]))
    model.backward(np.concatenate([dfirst, dsecond]))
    together = {p.name: p.grad.copy() for p in model.parameters() if p.grad is not None}

    model.forward(first)
    model.backward(dfirst)
    from_first = {p.name: p.grad.copy() for p in model.parameters()
                  if p.grad is not None}
    model.forward(second)
    model.backward(dsecond)
    for parameter in model.parameters():
        if parameter.grad is None:
            continue
        np.testing.assert_allclose(together[parameter.name],
                                   from_first[parameter.name] + parameter.grad,
                                   rtol=1e-10, atol=1e-12, err_msg=parameter.name)


def test_logistic_head_gradient_through_shared_network():
    model = tiny_network(seed=7)
    images = np.random.default_rng(8).random((4, 1, 6, 6))
    first, second = np.array([0, 1, 0]), np.array([2, 3, 3])
    same = np.array([1, 0, 1])
    head = model.head

    def loss(_=None):
        encodings = model.forward(images)
        return logistic_pair_loss(encodings[first], encodings[second], same,
                                  head.params["weight"], head.params["bias"])[0]

    encodings = model.forward(images)
    _, (dfirst, dsecond, dweight, dbias) = logistic_pair_loss(
        encodings[first], encodings[second], same, head.params["weight"],
        head.params["bias"])
    dencodings = np.zeros_like(encodings)
    np.add.at(dencodings, first, dfirst)
    np.add.at(dencodings, second, dsecond)
    model.backward(dencodings)

    np.testing.assert_allclose(dweight, numerical_gradient(loss, head.params["weight"]),
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(dbias, numerical_gradient(loss, head.params["bias"]),
                               rtol=1e-5, atol=1e-9)
    conv_weight = model[0].params["weight"]
    np.testing.assert_allclose(model[0].grads["weight"],
                               numerical_gradient(loss, conv_weight),
                               rtol=1e-5, atol=1e-9)


def test_pair_scores_distance_and_logistic():
    model = tiny_network(seed=9)
    rng = np.random.default_rng(10)
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(pair_scores(model, x1, x2),
                               ((x1 - x2) ** 2).sum(axis=1))
    logits = pair_logits(model, x1, x2)
    np.testing.assert_allclose(pair_scores(model, x1, x2, "logistic"),
                               1 / (1 + np.exp(logits)))


def test_pair_scores_rejects_unknown_score():
    model = tiny_network()
    with pytest.raises(ValueError, match="score"):
        pair_scores(model, np.zeros((1, 3)), np.zeros((1, 3)), "cosine")


def test_registered_builder_round_trips_checkpoint(tmp_path):
    config = {"image_size": 8, "channels": [3], "hidden_size": 4,
              "embedding_size": 2}
    model = build_model(model_spec("siamese", **config))
    model.head.params["bias"][:] = 0.75
    path = save_checkpoint(tmp_path / "siamese.npz", model,
                           model=model_spec("siamese", **config), tau=0.5)
    state, metadata = load_checkpoint(path)
    assert "head.weight" in state
    assert metadata["tau"] == 0.5

    loaded, _ = load_model(path)
    images = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(embed(loaded, images), embed(model, images))
    assert loaded.head.params["bias"][0] == 0.75


def test_builder_rejects_too_small_images():
    with pytest.raises(ValueError, match="image_size"):
        build_siamese_network(image_size=3, channels=(4, 4))
