"""``nnscratch evaluate``: mAP of the detector on a labelled dataset."""

import argparse

from nnscratch.cli import HelpFormatter, output_file


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="VOC mAP@0.5 and COCO mAP@[.5:.95] of the detector",
        description="Evaluate the YOLO detector per class and overall. Without "
                    "--data it uses the test split of the embedded dataset.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data", help="YOLO dataset folder or YAML, or COCO JSON file")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"),
                        help="which split of the dataset to score")
    parser.add_argument("--weights", help="detector checkpoint; the shipped weights if omitted")
    parser.add_argument("--json", type=output_file(".json"), metavar="OUT.json",
                        help="also write the result here")
    parser.set_defaults(handler=run)


def run(args):
    import json
    import os
    import time

    from nnscratch.detector.dataset import embedded_split
    from nnscratch.detector.evaluate import evaluate_detector, format_table
    from nnscratch.detector.predict import Detector
    from nnscratch.detector.train import read_split

    detector = Detector.from_checkpoint(args.weights)
    if args.data is None:
        warn_on_other_recipe(detector.training)
    data = embedded_split(args.split) if args.data is None else read_split(
        args.data, args.split)
    if list(data.class_names) != list(detector.class_names):
        raise ValueError(
            f"the dataset's classes {list(data.class_names)} differ from the "
            f"classes the weights were trained on {list(detector.class_names)}; "
            "train on this dataset first (nnscratch train detector --data ...) "
            "and pass its weights with --weights"
        )
    began = time.perf_counter()
    result = evaluate_detector(detector, data)
    print(format_table(result))
    print(f"{len(data)} images in {time.perf_counter() - began:.1f} s")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result, stream, indent=2)
        print(f"wrote {args.json}")
    return 0


def warn_on_other_recipe(training):
    """Warn when the weights were trained on another recipe of the embedded set."""
    import sys

    from nnscratch.detector.dataset import RECIPE_VERSION

    trained_on = training.get("recipe_version")
    if training.get("data") == "embedded" and trained_on != RECIPE_VERSION:
        print(f"warning: these weights were trained on recipe {trained_on} of the "
              f"embedded dataset, and this is recipe {RECIPE_VERSION}; retrain with "
              "`nnscratch train detector` for comparable numbers", file=sys.stderr)
