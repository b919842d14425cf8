"""Evaluate a Siamese checkpoint: the work behind ``nnscratch siamese evaluate``.

Verification is scored on pairs of held-out images (ROC curve, AUC, 10-fold
accuracy, TAR at FAR 1e-3) and identification on N-way one-shot trials. The
same pairs and trials are scored with normalised pixels too, as a baseline
without any network.
"""

import json
import os

import numpy as np

from nnscratch.siamese import metrics
from nnscratch.siamese.benchmarks import BENCHMARK_VERSIONS, BENCHMARKS, load_benchmark
from nnscratch.siamese.commands import DEFAULT_WEIGHTS, load_siamese, read_inputs
from nnscratch.siamese.data import read_image_folder
from nnscratch.siamese.model import embed, pair_scores

EVALUATION_PAIRS = 20_000


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
        return read_inputs(dataset.paths, metadata), dataset.labels, data, None

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
        "benchmark_version": BENCHMARK_VERSIONS.get(benchmark),
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
