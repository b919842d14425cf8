"""Train the YOLO detector: anchors by k-means, YOLO loss, Adam, mAP each epoch."""

import logging
import os
from functools import partial

import numpy as np

from nnscratch import init, optim
from nnscratch.detection.yolo_loss import yolo_loss
from nnscratch.detector.dataset import RECIPE_VERSION, embedded_split
from nnscratch.detector.evaluate import evaluate_detector
from nnscratch.detector.model import build_detector
from nnscratch.detector.pipeline import DetectionBatches, check_image_size, choose_anchors
from nnscratch.detector.predict import Detector
from nnscratch.trainer import Trainer
from nnscratch.zoo import model_spec

logger = logging.getLogger(__name__)

DEFAULTS = {
    "epochs": 50,
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 5e-4,
    "num_anchors": 5,
    "width": 16,
    "image_size": 128,
    "seed": 0,
    "train_size": 2000,
    "ignore_iou": 0.6,
    "grid_stride": 8,
}


def load_splits(data=None, train_size=None, seed=0):
    """Return (train, val) DetectionData from a dataset path or the embedded set.

    ``data`` may be a YOLO dataset folder or YAML, or a COCO JSON file whose
    folder also contains ``val.json`` next to ``train.json``.
    """
    if data is None:
        return (embedded_split("train", train_size, seed),
                embedded_split("val", None, seed))
    return read_split(data, "train"), read_split(data, "val")


def read_split(path, split):
    """Read ``split`` of a YOLO dataset folder/YAML or of COCO JSON files.

    For COCO, ``path`` is either a JSON file (used for every split) or a
    folder holding ``<split>.json``.
    """
    from nnscratch.detector.coco_format import read_coco_dataset
    from nnscratch.detector.yolo_format import read_yolo_dataset

    path = os.fspath(path)
    if path.endswith(".json"):
        return read_coco_dataset(path)
    coco_file = os.path.join(path, f"{split}.json")
    if os.path.isdir(path) and os.path.isfile(coco_file):
        return read_coco_dataset(coco_file)
    return read_yolo_dataset(path, split)


def train_detector(out_dir, data=None, epochs=None, batch_size=None, lr=None,
                   weight_decay=None, num_anchors=None, width=None, image_size=None,
                   seed=None, train_size=None, grid_stride=None, resume=None,
                   progress=True):
    """Train a detector and write ``best.npz``, ``last.npz`` and curves to ``out_dir``.

    Parameters default to ``DEFAULTS``; ``data=None`` uses the embedded
    dataset (``train_size`` images). Returns the trainer's history.
    """
    settings = dict(DEFAULTS)
    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                 num_anchors=num_anchors, width=width, image_size=image_size,
                 seed=seed, train_size=train_size, grid_stride=grid_stride)
    settings.update({k: v for k, v in given.items() if v is not None})
    stride = settings["grid_stride"]
    image_size = check_image_size(settings["image_size"], stride)

    train_data, val_data = load_splits(data, settings["train_size"], settings["seed"])
    batches = DetectionBatches(train_data, image_size, np.ones((1, 2)), augment=True,
                               grid_stride=stride)
    anchors, mean_iou = choose_anchors(batches.boxes, settings["num_anchors"],
                                       settings["seed"], stride)
    batches.anchors = anchors
    logger.info("anchors (cells): %s, mean best IoU %.3f", anchors.round(3).tolist(),
                mean_iou)

    init.manual_seed(settings["seed"])
    num_classes = len(train_data.class_names)
    config = {"num_classes": num_classes, "num_anchors": settings["num_anchors"],
              "width": settings["width"], "grid_stride": stride}
    model = build_detector(**config)
    optimizer = optim.AdamW(model.parameters(), lr=settings["lr"],
                            weight_decay=settings["weight_decay"])
    steps = settings["epochs"] * -(-len(batches) // settings["batch_size"])
    schedule = optim.CosineLR(settings["lr"], steps, warmup_steps=min(200, steps // 10),
                              min_lr=settings["lr"] / 50)

    detector = Detector(model, anchors, train_data.class_names, image_size,
                        grid_stride=stride)

    def evaluate(_model):
        result = evaluate_detector(detector, val_data)
        return {"map50": result["map50"], "map50_95": result["map50_95"]}

    metadata = {
        "detector": {"anchors": anchors.tolist(), "class_names": list(train_data.class_names),
                     "image_size": image_size, "anchor_mean_iou": mean_iou,
                     "grid_stride": stride},
        "training": {**settings, "data": "embedded" if data is None else os.fspath(data),
                     "recipe_version": RECIPE_VERSION},
    }
    if resume is not None:
        check_resume_matches(resume, metadata["detector"])
    trainer = Trainer(
        model, partial(yolo_loss, anchors=anchors, ignore_iou=settings["ignore_iou"]),
        optimizer,
        batches, evaluate=evaluate, epochs=settings["epochs"],
        batch_size=settings["batch_size"], seed=settings["seed"], out_dir=out_dir,
        model_spec=model_spec("detector", **config), lr_schedule=schedule,
        clip_grad_norm=10.0, monitor="map50", monitor_mode="max", progress=progress,
        metadata=metadata,
    )
    return trainer.fit(resume=resume)


# The settings that give a detector checkpoint's weights their meaning, each
# with the command-line option that sets it.
_RESUME_SETTINGS = (("image_size", "--image-size"), ("grid_stride", "--grid-stride"),
                    ("class_names", "--data"))


def check_resume_matches(path, detector_metadata):
    """Raise ValueError unless the checkpoint at ``path`` was trained on the same
    input size, grid and classes, with the same anchors.

    The network is fully convolutional, so its weights load at any input size.
    Its anchors, though, are in grid cells of the size it was trained on, and
    its outputs follow that training's classes.
    """
    from nnscratch.checkpoint import load_checkpoint

    _, metadata = load_checkpoint(path)
    saved = metadata.get("detector")
    if saved is None:
        return  # not a detector checkpoint: Trainer.load reports the mismatch
    for key, option in _RESUME_SETTINGS:
        if saved.get(key) != detector_metadata[key]:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r} was trained with {key} "
                f"{saved.get(key)!r}, but this run has {detector_metadata[key]!r}; "
                f"resume with the same {option}, or train into a new --out folder"
            )
    saved_anchors = np.asarray(saved.get("anchors", []), dtype=float)
    anchors = np.asarray(detector_metadata["anchors"], dtype=float)
    if saved_anchors.shape != anchors.shape or not np.allclose(saved_anchors, anchors):
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} was trained with other anchors "
            f"({saved.get('anchors')}); resume with the same --data, --train-size, "
            "--anchors and --seed, or train into a new --out folder"
        )
