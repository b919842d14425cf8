"""Train, verify and identify: the work behind ``nnscratch siamese``.

A checkpoint written by ``train_command`` stores the network (registered as
"siamese" in ``nnscratch.zoo``) and, in its metadata, what the other commands
need: the threshold tau chosen on validation pairs, the score it applies to
("distance" for the triplet loss, "logistic" for the binary loss), the input
format (channels and image size) and the embedded benchmark it was trained on,
with its version, or None for the user's own data. ``evaluate.py`` holds the
``evaluate`` command.
"""

import dataclasses
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


def read_inputs(paths, metadata):
    """Read image files in the input format stored in a checkpoint's metadata."""
    config = metadata["model"]["config"]
    return load_images(paths, config["image_size"], config["in_channels"])


def constant_images(paths, images):
    """Return the paths whose network input has one value everywhere.

    Such inputs (a 1x1 image, a blank one, detail finer than the network's
    input size) carry no pattern, so the network cannot tell them apart.
    """
    spread = images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))  # (N,)
    return [str(path) for path, value in zip(paths, spread) if value == 0]


def verify_images(image1, image2, weights=DEFAULT_WEIGHTS):
    """Decide whether two image files show the same identity.

    Returns
    -------
    dict
        ``distance`` (squared Euclidean between encodings), ``score`` (the
        value compared with tau), ``score_name``, ``tau``, ``same``
        (score <= tau) and ``constant``: the inputs with one value
        everywhere (see ``constant_images``).
    """
    model, metadata = load_siamese(weights)
    images = read_inputs([image1, image2], metadata)
    encodings = embed(model, images)
    distance = float(pair_scores(model, encodings[:1], encodings[1:], "distance")[0])
    score = float(pair_scores(model, encodings[:1], encodings[1:],
                              metadata["score"])[0])
    return {"distance": distance, "score": score, "score_name": metadata["score"],
            "tau": metadata["tau"], "same": score <= metadata["tau"],
            "constant": constant_images([image1, image2], images)}


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
    if os.path.isfile(gallery):
        raise ValueError(f"gallery {gallery!r} is a file; give a folder with one "
                         "image per identity")
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
        identity, ``tau``, ``ranking``: (identity, score) for every
        identity, nearest first, and ``constant``: the inputs with one value
        everywhere (see ``constant_images``). An identity with several
        images scores its nearest one.
    """
    model, metadata = load_siamese(weights)
    paths, names = read_gallery(gallery)
    images = read_inputs([image] + paths, metadata)
    encodings = embed(model, images)
    scores = pair_scores(model, encodings[:1], encodings[1:], metadata["score"])

    best = {}
    for name, value in zip(names, scores):
        best[name] = min(best.get(name, np.inf), float(value))
    ranking = sorted(best.items(), key=lambda item: (item[1], item[0]))
    nearest, score = ranking[0]
    identity = nearest if score <= metadata["tau"] else UNKNOWN
    return {"identity": identity, "nearest": nearest, "score": score,
            "tau": metadata["tau"], "ranking": ranking,
            "constant": constant_images([image] + paths, images)}
