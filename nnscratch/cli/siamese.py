"""``nnscratch siamese train|verify|identify|evaluate``: one-shot verification."""

import os
import sys
import time

from nnscratch.cli import (
    output_file,
    output_folder,
    positive_float,
    positive_int,
    whole_number_at_least,
)

BENCHMARKS = ("patches", "digits")

DEFAULT_OUT = os.path.join("runs", "siamese")
DEFAULT_WEIGHTS = os.path.join(DEFAULT_OUT, "siamese.npz")

# The network the command trains has two 2x2 max pools, so an image side
# must be at least 2**2 pixels. Kept here, not read from the model module,
# so that parsing the command line does not import Numba.
MIN_IMAGE_SIZE = 4


def register(subparsers):
    parser = subparsers.add_parser(
        "siamese", help="train and use a Siamese network for one-shot verification",
        description="Learn a distance d(x1, x2) between images so that one image "
                    "per identity is enough to verify and identify.",
    )
    commands = parser.add_subparsers(dest="siamese_command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="train the embedding network and choose the threshold tau",
        description="Train on an identity folder, a humpback-whale CSV, or an "
                    "embedded benchmark: by default patch matching on regions of "
                    "14 photographs (7 other photographs held out), or with "
                    "--benchmark digits the bundled MNIST digits 0-6 (7-9 held "
                    "out). Options left out take the benchmark's settings, listed "
                    "as 'patches/digits/own data'.")
    train.add_argument("--data", metavar="DIR",
                       help="identity folder: DIR/<identity>/<image>")
    train.add_argument("--csv", metavar="FILE",
                       help="humpback-whale CSV with the columns Image and Id "
                            "('new_whale' marks unknown individuals)")
    train.add_argument("--images", metavar="DIR",
                       help="folder of the CSV's image files (default: the CSV's "
                            "folder)")
    train.add_argument("--benchmark", choices=BENCHMARKS, default=None,
                       help="embedded benchmark to train on when --data and --csv "
                            "are not given (default: patches)")
    train.add_argument("--loss", choices=("triplet", "binary"), default="triplet",
                       help="triplet loss or binary (logistic) loss on "
                            "|f(x1) - f(x2)| (default: triplet)")
    train.add_argument("--mining", choices=("random", "hard", "semi-hard"),
                       default="semi-hard",
                       help="triplet choice within a batch; hard is batch-hard "
                            "(default: semi-hard)")
    train.add_argument("--margin", type=float, default=None,
                       help="triplet margin alpha, in squared-distance units "
                            "(default: 0.2)")
    train.add_argument("--epochs", type=int, default=None,
                       help="passes over the training images (default: 10/8/8)")
    train.add_argument("--classes-per-batch", type=int, default=None,
                       help="identities per batch, P (default: 32/7/7)")
    train.add_argument("--images-per-class", type=int, default=None,
                       help="images per identity in a batch, K (default: 4/16/16)")
    train.add_argument("--lr", type=positive_float, default=None,
                       help="Adam's initial learning rate (default: 0.002)")
    train.add_argument("--image-size", type=whole_number_at_least(MIN_IMAGE_SIZE),
                       default=28,
                       help="input height and width in pixels for --data/--csv "
                            "images (default: 28)")
    train.add_argument("--channels", type=int, choices=(1, 3), default=1,
                       help="1 for grey, 3 for colour input (default: 1)")
    train.add_argument("--embedding-size", type=int, default=None,
                       help="length of each encoding (default: 64)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--out", type=output_folder, default=DEFAULT_OUT, metavar="DIR",
                       help=f"output folder for siamese.npz (default: {DEFAULT_OUT})")
    train.set_defaults(handler=run_train)

    verify = commands.add_parser(
        "verify", help="print the distance of two images and same/different at tau")
    verify.add_argument("image1", metavar="IMG1")
    verify.add_argument("image2", metavar="IMG2")
    _add_weights(verify)
    verify.set_defaults(handler=run_verify)

    identify = commands.add_parser(
        "identify", help="find the nearest gallery identity, or 'unknown' beyond tau")
    identify.add_argument("image", metavar="IMG")
    identify.add_argument("--gallery", required=True, metavar="DIR",
                          help="one image per identity (DIR/alice.jpg) or one "
                               "folder per identity (DIR/alice/*.jpg)")
    _add_weights(identify)
    identify.set_defaults(handler=run_identify)

    evaluate = commands.add_parser(
        "evaluate", help="ROC curve, AUC, TAR at FAR 1e-3 and one-shot accuracy",
        description="Evaluate on held-out identities: by default those of the "
                    "benchmark the checkpoint was trained on (the regions of 7 "
                    "held-out photographs, or the MNIST digits 7-9), which "
                    "training never sees.")
    evaluate.add_argument("--data", metavar="DIR",
                          help="identity folder of identities not used in training")
    evaluate.add_argument("--benchmark", choices=BENCHMARKS, default=None,
                          help="embedded benchmark whose held-out identities to use "
                               "(default: the checkpoint's own)")
    evaluate.add_argument("--json", metavar="OUT.json", type=output_file(".json"),
                          help="also write the metrics to this JSON file")
    evaluate.add_argument("--roc", metavar="PNG",
                          help="ROC curve image (default: roc.png beside the weights)")
    evaluate.add_argument("--ways", type=whole_number_at_least(2), default=3,
                          help="N of the N-way one-shot test (default: 3)")
    evaluate.add_argument("--trials", type=positive_int, default=2000,
                          help="one-shot trials (default: 2000)")
    _add_weights(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def _add_weights(parser):
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, metavar="FILE",
                        help=f"checkpoint from `siamese train` (default: "
                             f"{DEFAULT_WEIGHTS})")


def run_train(args):
    from tqdm import tqdm

    from nnscratch.siamese.commands import (
        check_training_source,
        make_train_config,
        train_command,
    )

    benchmark = check_training_source(args.data, args.csv, args.benchmark)
    config = make_train_config(
        benchmark, loss=args.loss, mining=args.mining, margin=args.margin,
        epochs=args.epochs, classes_per_batch=args.classes_per_batch,
        images_per_class=args.images_per_class, lr=args.lr, seed=args.seed)
    config.validate()
    bar = None

    def show_progress(epoch, step, steps, loss, triplets):
        nonlocal bar
        if step == 0:
            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.epochs}",
                       unit="batch", leave=False)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", triplets=triplets)
        if step == steps - 1:
            bar.close()

    start, cpu_start = time.perf_counter(), time.process_time()
    path, summary = train_command(
        data=args.data, csv_path=args.csv, image_dir=args.images, out=args.out,
        config=config, image_size=args.image_size, channels=args.channels,
        embedding_size=args.embedding_size, callback=show_progress,
        benchmark=benchmark)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start

    for record in summary["history"]:
        print(f"epoch {record['epoch']:3d}  loss {record['loss']:.4f}  "
              f"triplets per batch {record['triplets']:.1f}")
    validation = summary["validation"]
    print(f"trained on {summary['source']} in {seconds:.1f} s wall, "
          f"{cpu_seconds:.1f} s CPU")
    print(f"validation pairs: {validation['pairs']}, AUC {validation['auc']:.4f}, "
          f"accuracy {validation['accuracy']:.2%} at tau = {validation['tau']:.4f}")
    print(f"saved {path}")
    return 0


def warn_constant(paths):
    """Print a warning on stderr for each input the network cannot read."""
    for path in paths:
        print(f"warning: {path} has one value everywhere at the network's input "
              "size, so it looks the same as any other blank image; use a "
              "larger or more detailed image", file=sys.stderr)


def run_verify(args):
    from nnscratch.siamese.commands import verify_images

    result = verify_images(args.image1, args.image2, weights=args.weights)
    warn_constant(result["constant"])
    print(f"squared distance: {result['distance']:.4f}")
    if result["score_name"] != "distance":
        print(f"1 - P(same) from the logistic head: {result['score']:.4f}")
    verdict = "same" if result["same"] else "different"
    relation = "<=" if result["same"] else ">"
    print(f"{verdict} ({result['score_name']} {result['score']:.4f} {relation} "
          f"tau {result['tau']:.4f})")
    return 0


def run_identify(args):
    from nnscratch.siamese.commands import identify_image

    result = identify_image(args.image, args.gallery, weights=args.weights)
    warn_constant(result["constant"])
    for name, value in result["ranking"][:5]:
        print(f"  {name}: {value:.4f}")
    if result["identity"] == "unknown":
        print(f"unknown (nearest {result['nearest']!r} at {result['score']:.4f} > "
              f"tau {result['tau']:.4f})")
    else:
        print(f"{result['identity']} ({result['score']:.4f} <= tau "
              f"{result['tau']:.4f})")
    return 0


def run_evaluate(args):
    from nnscratch.siamese.evaluate import evaluate_command

    result = evaluate_command(weights=args.weights, data=args.data,
                              json_path=args.json, roc_path=args.roc,
                              ways=args.ways, trials=args.trials,
                              benchmark=args.benchmark)
    print(f"data: {result['data']}, {result['images']} images, "
          f"{result['pairs']} pairs")
    print(f"ROC AUC: {result['auc']:.4f}")
    print(f"accuracy (10-fold, tau from 9 folds): {result['accuracy']:.2%} "
          f"+- {result['accuracy_std']:.2%}")
    print(f"accuracy at the checkpoint's tau {result['tau']:.4f}: "
          f"{result['accuracy_at_checkpoint_tau']:.2%}")
    print(f"TAR at FAR 1e-3: {result['tar_at_far_1e-3']:.2%}")
    print(f"{result['ways']}-way one-shot accuracy: {result['one_shot_accuracy']:.2%}")
    if result["score"] != "distance":
        print(f"ROC AUC of the squared distance alone: {result['distance_auc']:.4f}")
    print(f"baseline, normalised pixels on the same pairs and trials: ROC AUC "
          f"{result['pixel_auc']:.4f}, {result['ways']}-way one-shot accuracy "
          f"{result['pixel_one_shot_accuracy']:.2%}")
    print(f"ROC curve: {result['roc_png']}")
    if args.json:
        print(f"metrics: {args.json}")
    return 0

