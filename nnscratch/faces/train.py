"""Train the face / non-face classifier, with rounds of hard-negative mining.

Round 0 trains on augmented LFW faces against LFW non-faces and random crops
of the training photographs. After each round the classifier, turned fully
convolutional, scans every training photograph at every pyramid level. Those
photographs contain no face, so every window it still scores as a face is a
false positive, and these windows join the negatives of the next round.

Run ``python -m nnscratch.faces.train --out FILE`` to train from the command
line; ``--help`` lists the settings.
"""

import argparse
import logging
import sys
import time

import numpy as np

from nnscratch.faces import data
from nnscratch.faces.detect import FaceDetector
from nnscratch.faces.model import (
    FACE_CLASS,
    WINDOW_STRIDE,
    build_face_classifier,
    face_probability,
)
from nnscratch.losses import softmax_cross_entropy
from nnscratch.optim import Adam

logger = logging.getLogger(__name__)

MINING_MAX_SIDE = 512
"""Training photographs are shrunk to at most this many pixels per side."""


def load_training_photographs(names=data.TRAINING_PHOTOGRAPHS,
                              max_side=MINING_MAX_SIDE):
    """Load the face-free training photographs, shrunk to ``max_side``.

    Returns
    -------
    list of ndarray of shape (H, W), float32 in [0, 1]
    """
    from nnscratch.faces.detect import resize_level

    photographs = []
    for name in names:
        photo = data.load_photograph(name)
        shrink = max_side / max(photo.shape)
        if shrink < 1:
            shape = (round(photo.shape[0] * shrink), round(photo.shape[1] * shrink))
            photo = resize_level(photo, shape)
        photographs.append(photo)
    return photographs


def mine_hard_negatives(detector, photographs, threshold, max_per_photo, min_size):
    """Collect the windows of face-free photographs scored as faces.

    Parameters
    ----------
    detector : FaceDetector
    photographs : list of ndarray of shape (H, W), float32
        Photographs with no face, so every window above ``threshold`` is a
        false positive.
    threshold : float
        Face probability above which a window counts as a false positive.
    max_per_photo : int
        Keep only the best-scoring windows of each photograph, so that one
        photograph cannot fill the negative set.
    min_size : float
        Smallest face side searched, in pixels.

    Returns
    -------
    windows : ndarray of shape (M, window, window), float32
    found : int
        False positives found before the per-photograph cap.
    """
    window = detector.window
    stride = WINDOW_STRIDE
    hard_windows, found = [], 0
    for photo in photographs:
        candidates = []
        for level, scores in detector.score_pyramid(photo, min_size=min_size):
            rows, cols = np.nonzero(scores >= threshold)
            for i, j, score in zip(rows, cols, scores[rows, cols]):
                top, left = stride * i, stride * j
                candidates.append((score, level[top:top + window, left:left + window]))
        found += len(candidates)
        candidates.sort(key=lambda pair: -pair[0])
        hard_windows.extend(crop for _, crop in candidates[:max_per_photo])
    if not hard_windows:
        return np.empty((0, window, window), np.float32), found
    return np.stack(hard_windows).astype(np.float32), found


def window_accuracy(model, faces, nonfaces, threshold=0.5):
    """Return the fraction of windows classified right at ``threshold``.

    Parameters
    ----------
    faces, nonfaces : ndarray of shape (N, window, window), float32

    Returns
    -------
    float
    """
    model.eval()
    windows = np.concatenate([faces, nonfaces])[:, None]  # (N, 1, window, window)
    probability = face_probability(model.forward(windows.astype(np.float32)))
    labels = np.r_[np.ones(len(faces)), np.zeros(len(nonfaces))]
    return float(np.mean((probability >= threshold) == labels))


def train_face_classifier(seed=0, rounds=5, epochs_per_round=3, positives=3000,
                          negatives=6000, batch_size=64, lr=2e-3, lr_decay=0.6,
                          random_windows=6000, mining_threshold=0.2,
                          max_hard_per_photo=400, mining_min_size=data.FACE_WINDOW,
                          textures=12, photographs=None, on_epoch=None):
    """Train the face classifier from scratch; return it and a training log.

    Parameters
    ----------
    seed : int
        Seeds weight initialisation, augmentation and sampling.
    rounds : int
        Training rounds; hard negatives are mined after every round but the
        last.
    epochs_per_round : int
    positives, negatives : int
        Windows of each class drawn fresh in every epoch.
    batch_size : int
    lr : float
        Adam's learning rate in round 0.
    lr_decay : float
        Factor applied to the learning rate at the start of each later round.
    random_windows : int
        Random crops of the training photographs, drawn once.
    mining_threshold : float
        Face probability that makes a photograph window a hard negative.
    max_hard_per_photo : int
        Hard negatives kept per photograph and round.
    mining_min_size : float
        Smallest face side searched while mining, in pixels.
    textures : int
        Synthetic face-free textures (``data.synthetic_textures``) added to the
        photographs.
    photographs : list of ndarray of shape (H, W), optional
        Face-free photographs; ``load_training_photographs()`` by default.
    on_epoch : callable, optional
        Called with a dict (round, epoch, loss, val_accuracy, hard_negatives)
        after every epoch.

    Returns
    -------
    model : Sequential
        In eval mode.
    log : list of dict
        One entry per epoch, the dicts passed to ``on_epoch``.
    """
    for label, value in (("rounds", rounds), ("epochs_per_round", epochs_per_round),
                         ("positives", positives), ("negatives", negatives),
                         ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"train_face_classifier: {label} must be a positive int, got {value!r}"
            )
    rng = np.random.default_rng(seed)
    model = build_face_classifier(rng=np.random.default_rng(seed + 1))
    optimizer = Adam(model.parameters(), lr=lr)

    train_faces, train_nonfaces, val_faces, val_nonfaces = data.lfw_split()
    val_faces = data.center_windows(val_faces)
    val_nonfaces = data.center_windows(val_nonfaces)
    if photographs is None:
        photographs = load_training_photographs()
    photographs = list(photographs) + data.synthetic_textures(textures, rng)
    photo_windows = data.random_photo_windows(photographs, random_windows, rng)
    hard = np.empty((0, data.FACE_WINDOW, data.FACE_WINDOW), np.float32)

    log = []
    hard_found = 0
    for round_index in range(rounds):
        optimizer.lr = lr * lr_decay**round_index
        for epoch in range(epochs_per_round):
            x, y = _draw_epoch(rng, train_faces, train_nonfaces, photo_windows, hard,
                               positives, negatives)
            loss = _run_epoch(model, optimizer, x, y, batch_size, rng)
            entry = {
                "round": round_index, "epoch": epoch, "loss": loss,
                "val_accuracy": window_accuracy(model, val_faces, val_nonfaces),
                "hard_negatives": int(len(hard)), "false_positives_found": hard_found,
            }
            log.append(entry)
            if on_epoch is not None:
                on_epoch(entry)
        if round_index < rounds - 1:
            detector = FaceDetector(model)
            mined, hard_found = mine_hard_negatives(
                detector, photographs, mining_threshold, max_hard_per_photo,
                mining_min_size)
            logger.info("round %d: %d false positives, %d kept as hard negatives",
                        round_index, hard_found, len(mined))
            hard = np.concatenate([hard, mined])
    model.eval()
    return model, log


def _draw_epoch(rng, faces, nonfaces, photo_windows, hard, positives, negatives):
    """Return one epoch's windows (N, 1, window, window) and labels (N,)."""
    # Negatives: a quarter LFW non-faces, the rest photograph windows, of which
    # up to half are hard negatives once mining has found some.
    lfw_count = negatives // 4
    hard_count = min(len(hard) * 4, (negatives - lfw_count) // 2) if len(hard) else 0
    photo_count = negatives - lfw_count - hard_count

    parts = [
        data.augment_faces(faces, positives, rng),
        data.augment_nonfaces(nonfaces, lfw_count, rng),
        _flip_pick(photo_windows, photo_count, rng),
    ]
    if hard_count:
        parts.append(data.jitter_photometric(_flip_pick(hard, hard_count, rng), rng,
                                             contrast=(0.8, 1.2), brightness=0.05,
                                             gamma=(0.9, 1.1), noise=0.01))
    x = np.concatenate(parts)[:, None]  # (N, 1, window, window)
    y = np.r_[np.full(positives, FACE_CLASS), np.full(negatives, 1 - FACE_CLASS)]
    return x.astype(np.float32), y.astype(np.int64)


def _flip_pick(windows, count, rng):
    """Pick ``count`` windows with replacement, mirroring half of them."""
    picked = windows[rng.integers(0, len(windows), count)]
    flips = rng.random(count) < 0.5
    picked[flips] = picked[flips, :, ::-1]
    return picked


def _run_epoch(model, optimizer, x, y, batch_size, rng):
    """Run one shuffled pass of Adam steps; return the mean loss."""
    model.train()
    order = rng.permutation(len(x))
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        logits = model.forward(x[batch])
        loss, dlogits = softmax_cross_entropy(logits, y[batch])
        optimizer.zero_grad()
        model.backward(dlogits)
        optimizer.step()
        total += loss * len(batch)
    return total / len(x)


def save_face_classifier(path, model, seed, settings, log):
    """Write the classifier's checkpoint with what reproduces it.

    Returns
    -------
    str
        The path written.
    """
    from nnscratch.checkpoint import save_checkpoint
    from nnscratch.zoo import model_spec

    return save_checkpoint(
        path, model, model=model_spec("faces", window=data.FACE_WINDOW),
        seed=seed, settings=settings, log=log,
        training_photographs=list(data.TRAINING_PHOTOGRAPHS),
    )


def main(argv=None):
    """Train from the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m nnscratch.faces.train",
        description="Train the sliding-window face classifier on lfw_subset and "
                    "face-free scikit-image photographs.",
    )
    parser.add_argument("--out", required=True, help="checkpoint to write (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="training rounds, with hard-negative mining between "
                             "them (default 5)")
    parser.add_argument("--epochs-per-round", type=int, default=3,
                        help="epochs in each round (default 3)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    import inspect

    # Store every setting, defaults included, so the checkpoint records how to
    # reproduce it.
    signature = inspect.signature(train_face_classifier)
    settings = {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name not in ("seed", "photographs", "on_epoch")
    }
    settings.update(rounds=args.rounds, epochs_per_round=args.epochs_per_round)
    start = time.perf_counter()
    with tqdm(total=args.rounds * args.epochs_per_round, unit="epoch") as bar:
        def report(entry):
            bar.update(1)
            bar.set_postfix(round=entry["round"], loss=f"{entry['loss']:.4f}",
                            val_acc=f"{entry['val_accuracy']:.3f}",
                            hard=entry["hard_negatives"])

        model, log = train_face_classifier(seed=args.seed, on_epoch=report,
                                           **settings)
    elapsed = time.perf_counter() - start
    path = save_face_classifier(args.out, model, args.seed, settings, log)
    last = log[-1]
    print(f"trained in {elapsed:.1f} s: final loss {last['loss']:.4f}, validation "
          f"accuracy {last['val_accuracy']:.3f}, {last['hard_negatives']} hard "
          f"negatives; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
