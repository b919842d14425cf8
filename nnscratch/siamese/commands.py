"""Train, verify, identify and evaluate: the work behind ``nnscratch siamese``.

A checkpoint written by ``train_command`` stores the network (registered as
"siamese" in ``nnscratch.zoo``) and, in its metadata, what the other commands
need: the threshold tau chosen on validation pairs, the score it applies to
("distance" for the triplet loss, "logistic" for the binary loss), the input
format (channels and image size) and the embedded benchmark it was trained on,
with its version, or None for the user's own data.
"""

import dataclasses
import json
import logging
import os

import numpy as np

from nnscratch.checkpoint import save_checkpoint
from nnscratch.siamese import metrics
from nnscratch.siamese.benchmarks import (
    BENCHMARK_VERSIONS,
    BENCHMARKS,
    DEFAULT_BENCHMARK,
    MODEL_SETTINGS,
    TRAIN_SETTINGS,
    load_benchmark,
)
from nnscratch.siamese.data import (
    is_image_file,
    load_images,
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


def check_training_source(data=None, csv_path=None, benchmark=None):
    """Return the benchmark to train on, or None for the user's own data.

    Raises
    ------
    ValueError
        If more than one of ``data``, ``csv_path`` and ``benchmark`` is given,
        or ``benchmark`` is not in ``BENCHMARKS``.
    """
    sources = [name for name, value in (("an identity folder", data),
                                         ("a whale CSV", csv_path),
                                         ("a benchmark", benchmark))
               if value is not None]
    if len(sources) > 1:
        raise ValueError(
            f"give only one training source, got {' and '.join(sources)}; "
            "--benchmark applies only without --data and --csv"
        )
    if data is not None or csv_path is not None:
        return None
    benchmark = DEFAULT_BENCHMARK if benchmark is None else benchmark
    if benchmark not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {benchmark!r}")
    return benchmark


def make_train_config(benchmark=None, **options):
    """Return a ``TrainConfig``: the benchmark's settings, then ``options``.

    Parameters
    ----------
    benchmark : str or None
        A name in ``TRAIN_SETTINGS``; None (the user's own data) keeps the
        ``TrainConfig`` defaults.
    **options
        ``TrainConfig`` fields; None values are skipped, so command-line
        options that were not given keep the benchmark's settings.

    Returns
    -------
    TrainConfig
    """
    settings = dict(TRAIN_SETTINGS[benchmark]) if benchmark is not None else {}
    settings.update({key: value for key, value in options.items() if value is not None})
    return TrainConfig(**settings)


def load_training_data(data=None, csv_path=None, image_dir=None, image_size=28,
                       channels=1, benchmark=None):
    """Return (images, labels, identities, source) for training.

    Parameters
    ----------
    data : str, optional
        An identity folder (``read_image_folder``).
    csv_path : str, optional
        A humpback-whale CSV (``read_whale_csv``), with its ``image_dir``.
    image_size, channels : int
        Input format for user images; a benchmark has its own.
    benchmark : str, optional
        An embedded benchmark's name; the default benchmark when ``data``,
        ``csv_path`` and ``benchmark`` are all None.

    Returns
    -------
    images : ndarray of shape (N, C, H, W), float32
    labels : ndarray of shape (N,), int64
    identities : list of str
    source : str
        A description for the checkpoint metadata.
    """
    benchmark = check_training_source(data, csv_path, benchmark)
    if benchmark is not None:
        loaded = load_benchmark(benchmark)
        return (loaded.train_images, loaded.train_labels, loaded.train_identities,
                loaded.train_source)
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
                  config=None, image_size=28, channels=1, embedding_size=None,
                  validation_fraction=0.1, callback=None, benchmark=None):
    """Train a Siamese network, choose tau and write ``out/siamese.npz``.

    Parameters
    ----------
    data, csv_path, image_dir : str, optional
        The user's training identities (see ``load_training_data``).
    out : str
        Output folder.
    config : TrainConfig, optional
        Defaults to ``make_train_config(benchmark)``.
    image_size, channels : int
        Network input for user images; a benchmark has its own.
    embedding_size : int, optional
        Length of each encoding; the benchmark's setting (64) when omitted.
    validation_fraction : float
        Share of each identity's images held out to choose tau.
    callback : callable, optional
        Passed to ``fit``.
    benchmark : {"patches", "digits"}, optional
        The embedded benchmark to train on when neither ``data`` nor
        ``csv_path`` is given; ``DEFAULT_BENCHMARK`` when omitted too.

    Returns
    -------
    path : str
        The checkpoint written.
    summary : dict
        ``history``, ``validation`` (tau, accuracy, auc), ``source`` and
        ``benchmark`` (None for user data).
    """
    benchmark = check_training_source(data, csv_path, benchmark)
    config = config or make_train_config(benchmark)
    config.validate()
    images, labels, identities, source = load_training_data(
        data, csv_path, image_dir, image_size, channels, benchmark)
    rng = np.random.default_rng(config.seed)
    train, validation = split_validation(labels, validation_fraction, rng)
    if len(validation) == 0:
        raise ValueError(
            "no identity has the three or more images needed to hold one out for "
            "choosing the threshold; add images per identity"
        )

    architecture = dict(MODEL_SETTINGS[benchmark]) if benchmark is not None else {}
    if embedding_size is not None:
        architecture["embedding_size"] = embedding_size
    model_config = {"in_channels": int(images.shape[1]),
                    "image_size": int(images.shape[-1]), **architecture}
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
        benchmark=benchmark,
        benchmark_version=None if benchmark is None else BENCHMARK_VERSIONS[benchmark],
        train_config=dataclasses.asdict(config),
        identities=identities, validation=validation_result, history=history,
    )
    return path, {"history": history, "validation": validation_result,
                  "source": source, "benchmark": benchmark}


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


def load_evaluation_data(metadata, data=None, benchmark=None):
    """Return (images, labels, description, benchmark) to evaluate a checkpoint on.

    Parameters
    ----------
    metadata : dict
        The checkpoint's metadata.
    data : str, optional
        An identity folder, read in the checkpoint's input format.
    benchmark : str, optional
        An embedded benchmark whose held-out identities to use. Without
        ``data`` and ``benchmark``, the checkpoint's own benchmark; checkpoints
        written before benchmarks were recorded trained on the digits.

    Raises
    ------
    ValueError
        If both sources are given, or the checkpoint was trained on user data
        and neither is given. Also if the benchmark's image format differs
        from the network's input, or the checkpoint was trained on another
        version of the same benchmark, whose evaluation identities may differ.
    """
    if data is not None and benchmark is not None:
        raise ValueError("give either an identity folder or a benchmark, not both")
    if data is not None:
        dataset = read_image_folder(data)
        return _read_inputs(dataset.paths, metadata), dataset.labels, data, None

    trained_on = metadata.get("benchmark", "digits")
    name = benchmark if benchmark is not None else trained_on
    if name is None:
        raise ValueError(
            f"this checkpoint was trained on {metadata.get('source')!r}, not on an "
            "embedded benchmark; pass --data DIR with identities that training "
            f"never saw, or --benchmark with one of {BENCHMARKS}"
        )
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {BENCHMARKS}, got {name!r}")
    version = metadata.get("benchmark_version", BENCHMARK_VERSIONS[name])
    if name == trained_on and version != BENCHMARK_VERSIONS[name]:
        raise ValueError(
            f"this checkpoint was trained on {name} benchmark version {version}, "
            f"but this code builds version {BENCHMARK_VERSIONS[name]}, whose "
            "held-out identities may differ; retrain with `nnscratch siamese train`"
        )

    loaded = load_benchmark(name)
    config = metadata["model"]["config"]
    expected = (config["in_channels"], config["image_size"])
    if expected != (loaded.channels, loaded.image_size):
        raise ValueError(
            f"the {name} benchmark has {loaded.channels}-channel "
            f"{loaded.image_size} x {loaded.image_size} images, but the network "
            f"takes {expected[0]}-channel {expected[1]} x {expected[1]} input; "
            f"train on it with `nnscratch siamese train --benchmark {name}`"
        )
    return loaded.eval_images, loaded.eval_labels, loaded.eval_source, name


def evaluate_command(weights=DEFAULT_WEIGHTS, data=None, json_path=None,
                     roc_path=None, ways=3, trials=2000, seed=0, benchmark=None):
    """Measure verification and one-shot identification on held-out identities.

    Parameters
    ----------
    weights : str
    data : str, optional
        An identity folder of identities not used in training. Without it,
        the held-out identities of an embedded benchmark
        (``load_evaluation_data``).
    json_path : str, optional
        Write the metrics there as JSON.
    roc_path : str, optional
        Write the ROC curve there as PNG; defaults to ``roc.png`` beside the
        weights.
    ways, trials : int
        N-way one-shot setting and number of trials.
    seed : int
    benchmark : {"patches", "digits"}, optional
        Evaluate on this benchmark instead of the checkpoint's own.

    Returns
    -------
    dict
        ``auc``, ``accuracy`` (10-fold, tau chosen on 9 folds),
        ``accuracy_std``, ``accuracy_at_checkpoint_tau``, ``tau``,
        ``distance_auc`` (of the squared distance, whatever the score),
        ``tar_at_far_1e-3``, ``one_shot_accuracy``, ``ways``, ``pairs``,
        ``images``, ``data``, ``benchmark`` (None for an identity folder),
        ``benchmark_version`` and ``roc_png``. ``pixel_auc`` and
        ``pixel_one_shot_accuracy`` score the same pairs and trials with
        ``normalised_pixels`` in place of the network, as a baseline.
    """
    model, metadata = load_siamese(weights)
    images, labels, description, benchmark = load_evaluation_data(
        metadata, data, benchmark)

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

    # The network and the pixel baseline face the same one-shot trials.
    trial_seed = [seed, 1]
    one_shot = metrics.one_shot_accuracy(encodings, labels, ways, trials,
                                         np.random.default_rng(trial_seed),
                                         score=support_scores)
    pixels = normalised_pixels(images)
    pixel_distances = ((pixels[first] - pixels[second]) ** 2).sum(axis=1)
    pixel_one_shot = metrics.one_shot_accuracy(pixels, labels, ways, trials,
                                               np.random.default_rng(trial_seed))
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
        "distance_auc": metrics.roc_auc(
            pair_scores(model, encodings[first], encodings[second], "distance"), same),
        "tar_at_far_1e-3": tar_value,
        "one_shot_accuracy": one_shot,
        "pixel_auc": metrics.roc_auc(pixel_distances, same),
        "pixel_one_shot_accuracy": pixel_one_shot,
        "ways": ways,
        "pairs": int(len(same)),
        "images": int(len(labels)),
        "data": description,
        "benchmark": benchmark,
        "benchmark_version": None if benchmark is None else BENCHMARK_VERSIONS[benchmark],
        "roc_png": roc_path,
    }
    if json_path is not None:
        folder = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(folder, exist_ok=True)
        with open(json_path, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
    return result


def normalised_pixels(images):
    """Flatten each image, subtract its mean and scale it to unit length.

    The squared distance between two such vectors is 2 - 2 r, with r the
    normalised cross-correlation of the images, a classic patch-matching
    score that ignores brightness and contrast.

    Parameters
    ----------
    images : ndarray of shape (N, C, H, W), float

    Returns
    -------
    ndarray of shape (N, C * H * W), float64
        A constant image (length below 1e-6 after subtracting its mean, which
        leaves only rounding error) maps to zeros.
    """
    pixels = images.reshape(len(images), -1).astype(np.float64)
    pixels -= pixels.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(pixels, axis=1, keepdims=True)  # (N, 1)
    return np.where(norms > 1e-6, pixels / np.maximum(norms, 1e-6), 0.0)


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
