"""Train, verify, identify and evaluate: the work behind ``nnscratch siamese``.

A checkpoint written by ``train_command`` stores the network (registered as
"siamese" in ``nnscratch.zoo``) and, in its metadata, what the other commands
need: the threshold tau chosen on validation pairs, the score it applies to
("distance" for the triplet loss, "logistic" for the binary loss) and the
input format (channels and image size).
"""

import json
import logging
import os

import numpy as np

from nnscratch.checkpoint import save_checkpoint
from nnscratch.siamese import metrics
from nnscratch.siamese.data import (
    EVAL_DIGITS,
    TRAIN_DIGITS,
    is_image_file,
    load_images,
    load_mnist_benchmark,
    read_image_folder,
    read_whale_csv,
    split_validation,
)
from nnscratch.siamese.model import build_siamese_network, embed, pair_scores
from nnscratch.siamese.train import TrainConfig, fit
from nnscratch.zoo import load_model, model_spec

logger = logging.getLogger(__name__)

DEFAULT_OUT = os.path.join("runs", "siamese")
CHECKPOINT_NAME = "siamese.npz"
DEFAULT_WEIGHTS = os.path.join(DEFAULT_OUT, CHECKPOINT_NAME)
VALIDATION_PAIRS = 10_000
EVALUATION_PAIRS = 20_000
UNKNOWN = "unknown"


def load_training_data(data=None, csv_path=None, image_dir=None, image_size=28,
                       channels=1):
    """Return (images, labels, identities, source) for training.

    Parameters
    ----------
    data : str, optional
        An identity folder (``read_image_folder``).
    csv_path : str, optional
        A humpback-whale CSV (``read_whale_csv``), with its ``image_dir``.
    image_size, channels : int
        Input format for user images; the MNIST benchmark is 28 x 28 grey.

    Returns
    -------
    images : ndarray of shape (N, C, H, W), float32
    labels : ndarray of shape (N,), int64
    identities : list of str
    source : str
        A description for the checkpoint metadata.
    """
    if data is not None and csv_path is not None:
        raise ValueError("give either an identity folder or a whale CSV, not both")
    if data is None and csv_path is None:
        benchmark = load_mnist_benchmark()
        identities = [str(digit) for digit in range(10)]
        source = (f"bundled MNIST digits {list(TRAIN_DIGITS)} (digits "
                  f"{list(EVAL_DIGITS)} held out for evaluation)")
        return benchmark.train_images, benchmark.train_labels, identities, source
    dataset = read_image_folder(data) if data is not None else read_whale_csv(
        csv_path, image_dir)
    images = load_images(dataset.paths, image_size, channels)
    return images, dataset.labels, dataset.identities, data or csv_path


def choose_threshold(model, images, labels, validation, score, rng):
    """Choose tau on validation pairs: a validation image against any other.

    Returns
    -------
    dict
        ``tau``, validation ``accuracy`` at tau, ``auc`` and ``pairs``.
    """
    encodings = embed(model, images)
    first, second, same = metrics.sample_pairs(labels, VALIDATION_PAIRS, rng,
                                               queries=validation)
    scores = pair_scores(model, encodings[first], encodings[second], score)
    tau, accuracy = metrics.best_threshold(scores, same)
    return {"tau": tau, "accuracy": accuracy, "auc": metrics.roc_auc(scores, same),
            "pairs": int(len(same))}


def train_command(data=None, csv_path=None, image_dir=None, out=DEFAULT_OUT,
                  config=None, image_size=28, channels=1, embedding_size=64,
                  validation_fraction=0.1, callback=None):
    """Train a Siamese network, choose tau and write ``out/siamese.npz``.

    Parameters
    ----------
    data, csv_path, image_dir : str, optional
        The training identities (see ``load_training_data``); the MNIST
        benchmark's training digits when both are None.
    out : str
        Output folder.
    config : TrainConfig, optional
    image_size, channels, embedding_size : int
        Network input and encoding size. The benchmark forces 28 and 1.
    validation_fraction : float
        Share of each identity's images held out to choose tau.
    callback : callable, optional
        Passed to ``fit``.

    Returns
    -------
    path : str
        The checkpoint written.
    summary : dict
        ``history``, ``validation`` (tau, accuracy, auc) and ``source``.
    """
    config = config or TrainConfig()
    config.validate()
    if data is None and csv_path is None:
        image_size, channels = 28, 1
    images, labels, identities, source = load_training_data(
        data, csv_path, image_dir, image_size, channels)
    rng = np.random.default_rng(config.seed)
    train, validation = split_validation(labels, validation_fraction, rng)
    if len(validation) == 0:
        raise ValueError(
            "no identity has the three or more images needed to hold one out for "
            "choosing the threshold; add images per identity"
        )

    model_config = {"in_channels": channels, "image_size": image_size,
                    "embedding_size": embedding_size}
    model = build_siamese_network(**model_config, rng=rng)
    history = fit(model, images[train], labels[train], config, callback)

    score = "distance" if config.loss == "triplet" else "logistic"
    validation_result = choose_threshold(model, images, labels, validation, score, rng)
    logger.info("validation: %s", validation_result)
    path = os.path.join(out, CHECKPOINT_NAME)
    save_checkpoint(
        path, model,
        model=model_spec("siamese", **model_config),
        tau=validation_result["tau"], score=score,
        loss=config.loss, mining=config.mining, margin=config.margin,
        epochs=config.epochs, seed=config.seed, source=source,
        identities=identities, validation=validation_result, history=history,
    )
    return path, {"history": history, "validation": validation_result,
                  "source": source}


def load_siamese(weights=DEFAULT_WEIGHTS):
    """Load a checkpoint written by ``train_command``; return (model, metadata)."""
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"Siamese weights not found: {weights!r}; train them with `nnscratch "
            "siamese train` or pass --weights"
        )
    model, metadata = load_model(weights)
    for key in ("tau", "score"):
        if key not in metadata:
            raise ValueError(
                f"{weights!r} has no {key!r} in its metadata, so it was not written "
                "by `nnscratch siamese train`"
            )
    return model, metadata


def _read_inputs(paths, metadata):
    config = metadata["model"]["config"]
    return load_images(paths, config["image_size"], config["in_channels"])


def verify_images(image1, image2, weights=DEFAULT_WEIGHTS):
    """Decide whether two image files show the same identity.

    Returns
    -------
    dict
        ``distance`` (squared Euclidean between encodings), ``score`` (the
        value compared with tau), ``score_name``, ``tau`` and ``same``
        (score <= tau).
    """
    model, metadata = load_siamese(weights)
    encodings = embed(model, _read_inputs([image1, image2], metadata))
    distance = float(pair_scores(model, encodings[:1], encodings[1:], "distance")[0])
    score = float(pair_scores(model, encodings[:1], encodings[1:],
                              metadata["score"])[0])
    return {"distance": distance, "score": score, "score_name": metadata["score"],
            "tau": metadata["tau"], "same": score <= metadata["tau"]}


def read_gallery(gallery):
    """Read a gallery: image files named after identities, or identity folders.

    ``gallery/alice.jpg`` enrolls "alice" with one image.
    ``gallery/alice/*.jpg`` enrolls "alice" with every image in the folder.
    Both forms may be mixed.

    Returns
    -------
    paths : list of str
    names : list of str
        The identity of each path.
    """
    if not os.path.isdir(gallery):
        raise ValueError(f"gallery folder not found: {gallery!r}")
    paths, names = [], []
    for entry in sorted(os.scandir(gallery), key=lambda e: e.name):
        if entry.is_file() and is_image_file(entry.name):
            paths.append(entry.path)
            names.append(os.path.splitext(entry.name)[0])
        elif entry.is_dir() and not entry.name.startswith("."):
            for name in sorted(os.listdir(entry.path)):
                if is_image_file(name):
                    paths.append(os.path.join(entry.path, name))
                    names.append(entry.name)
    if not paths:
        raise ValueError(
            f"gallery {gallery!r} has no images; put one image per identity in it, "
            "named after the identity (alice.jpg), or one folder per identity"
        )
    return paths, names


def identify_image(image, gallery, weights=DEFAULT_WEIGHTS):
    """Find the gallery identity nearest to ``image``, or "unknown" beyond tau.

    Returns
    -------
    dict
        ``identity`` (a gallery name or "unknown"), ``score`` of the nearest
        identity, ``tau`` and ``ranking``: (identity, score) for every
        identity, nearest first. An identity with several images scores its
        nearest one.
    """
    model, metadata = load_siamese(weights)
    paths, names = read_gallery(gallery)
    encodings = embed(model, _read_inputs([image] + paths, metadata))
    scores = pair_scores(model, encodings[:1], encodings[1:], metadata["score"])

    best = {}
    for name, value in zip(names, scores):
        best[name] = min(best.get(name, np.inf), float(value))
    ranking = sorted(best.items(), key=lambda item: (item[1], item[0]))
    nearest, score = ranking[0]
    identity = nearest if score <= metadata["tau"] else UNKNOWN
    return {"identity": identity, "nearest": nearest, "score": score,
            "tau": metadata["tau"], "ranking": ranking}


def evaluate_command(weights=DEFAULT_WEIGHTS, data=None, json_path=None,
                     roc_path=None, ways=3, trials=2000, seed=0):
    """Measure verification and one-shot identification on held-out identities.

    Parameters
    ----------
    weights : str
    data : str, optional
        An identity folder of identities not used in training; the MNIST
        benchmark's held-out digits when None.
    json_path : str, optional
        Write the metrics there as JSON.
    roc_path : str, optional
        Write the ROC curve there as PNG; defaults to ``roc.png`` beside the
        weights.
    ways, trials : int
        N-way one-shot setting and number of trials.
    seed : int

    Returns
    -------
    dict
        ``auc``, ``accuracy`` (10-fold, tau chosen on 9 folds),
        ``accuracy_std``, ``accuracy_at_checkpoint_tau``, ``tau``,
        ``tar_at_far_1e-3``, ``one_shot_accuracy``, ``ways``, ``pairs``,
        ``images``, ``data`` and ``roc_png``.
    """
    model, metadata = load_siamese(weights)
    if data is None:
        benchmark = load_mnist_benchmark()
        images, labels = benchmark.eval_images, benchmark.eval_labels
        description = f"bundled MNIST digits {list(EVAL_DIGITS)} (held out)"
    else:
        dataset = read_image_folder(data)
        images, labels = _read_inputs(dataset.paths, metadata), dataset.labels
        description = data

    rng = np.random.default_rng(seed)
    encodings = embed(model, images)
    first, second, same = metrics.sample_pairs(labels, EVALUATION_PAIRS, rng)
    score = metadata["score"]
    scores = pair_scores(model, encodings[first], encodings[second], score)
    far, tar, _ = metrics.roc_curve(scores, same)
    folds = metrics.kfold_threshold(scores, same, folds=10, rng=rng)
    tar_value, _ = metrics.tar_at_far(scores, same, far=1e-3)

    def support_scores(query, supports):
        return pair_scores(model, query, supports, score)

    one_shot = metrics.one_shot_accuracy(encodings, labels, ways, trials, rng,
                                         score=support_scores)
    roc_path = roc_path or os.path.join(os.path.dirname(weights) or ".", "roc.png")
    auc = metrics.roc_auc(scores, same)
    save_roc_png(roc_path, far, tar, auc, description)

    result = {
        "auc": auc,
        "accuracy": folds.accuracy,
        "accuracy_std": folds.accuracy_std,
        "accuracy_at_checkpoint_tau": metrics.accuracy_at(scores, same,
                                                          metadata["tau"]),
        "tau": metadata["tau"],
        "score": score,
        "tar_at_far_1e-3": tar_value,
        "one_shot_accuracy": one_shot,
        "ways": ways,
        "pairs": int(len(same)),
        "images": int(len(labels)),
        "data": description,
        "roc_png": roc_path,
    }
    if json_path is not None:
        folder = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(folder, exist_ok=True)
        with open(json_path, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    return result


def save_roc_png(path, far, tar, auc, title):
    """Plot a ROC curve to a PNG with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 4), dpi=100)
    axis.plot(far, tar, label=f"AUC = {auc:.4f}")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title(f"ROC: {title}", fontsize=9)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.legend(loc="lower right")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
