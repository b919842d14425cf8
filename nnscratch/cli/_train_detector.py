"""``nnscratch train detector``: train the YOLO detector."""

import argparse

from nnscratch.cli import HelpFormatter, output_folder, positive_float, positive_int


def register(targets):
    from nnscratch.detector.train import DEFAULTS

    parser = targets.add_parser(
        "detector", help="train the YOLO detector (embedded dataset by default)",
        description="Train the course's YOLO detector from scratch. Without --data it "
                    "uses the embedded dataset of real digits and faces on real "
                    "photographs. Writes best.npz, last.npz, history.json and "
                    "curves.png to --out.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data", help="YOLO dataset folder or YAML, or COCO JSON file")
    parser.add_argument("--out", type=output_folder, default="runs/detector",
                        help="output folder")
    parser.add_argument("--epochs", type=positive_int, default=DEFAULTS["epochs"],
                        help="passes over the training images")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"],
                        help="images per optimiser step")
    parser.add_argument("--lr", type=positive_float, default=DEFAULTS["lr"],
                        help="peak learning rate of the cosine schedule")
    parser.add_argument("--image-size", type=int, default=DEFAULTS["image_size"],
                        help="network input side in pixels, a multiple of the grid stride")
    parser.add_argument("--grid-stride", type=int, choices=(8, 16),
                        default=DEFAULTS["grid_stride"],
                        help="input pixels per grid cell (3 or 4 max pools)")
    parser.add_argument("--anchors", type=positive_int, default=DEFAULTS["num_anchors"],
                        help="number of anchor boxes, chosen by k-means")
    parser.add_argument("--train-size", type=positive_int,
                        help="images generated for the embedded training split "
                             f"(default {DEFAULTS['train_size']}; not used with --data)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="seed of the weights, anchors, batch order and augmentation")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.npz (after Ctrl-C)")
    parser.set_defaults(handler=run)


def run(args):
    import os
    import sys

    from nnscratch.detector.train import train_detector
    from nnscratch.trainer import TrainingInterrupted

    if args.data is not None and args.train_size is not None:
        print("warning: --train-size sets the size of the embedded dataset, so it is "
              "ignored with --data", file=sys.stderr)
    resume = os.path.join(args.out, "last.npz") if args.resume else None
    if resume and not os.path.isfile(resume):
        raise ValueError(f"--resume needs {resume}, which does not exist; run "
                         "without --resume to start training")
    try:
        history = train_detector(
            args.out, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, num_anchors=args.anchors, image_size=args.image_size,
            grid_stride=args.grid_stride,
            seed=args.seed, train_size=args.train_size, resume=resume)
    except TrainingInterrupted as stop:
        print(f"interrupted; run the same command with --resume added to continue "
              f"(checkpoint {stop.checkpoint})",
              file=sys.stderr)
        return 130
    best = max(history, key=lambda record: record["map50"])
    print(f"best validation mAP@0.5 {best['map50']:.4f} "
          f"(mAP@[.5:.95] {best['map50_95']:.4f}) at epoch {best['epoch']}; "
          f"weights in {os.path.join(args.out, 'best.npz')}")
    return 0
