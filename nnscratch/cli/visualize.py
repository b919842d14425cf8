"""``nnscratch visualize CHECKPOINT -o OUT_DIR``: what a network's units respond to."""

from nnscratch.cli import output_folder, positive_int


def register(subparsers):
    """Add the ``visualize`` command."""
    parser = subparsers.add_parser(
        "visualize", help="draw first-layer filters and each unit's top patches",
        description=(
            "Write the first convolution's filters as a PNG grid and, for chosen "
            "units (channels) of the first three convolutions, the nine image "
            "patches that activate each unit most, each cut to the unit's "
            "receptive field (magenta where the field reaches past the image). "
            "Works on classifier and detector checkpoints."
        ),
    )
    parser.add_argument("checkpoint", help="checkpoint .npz whose metadata names "
                                           "its model (classifier or detector)")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="folder of images to search (default: the images the "
                             "checkpoint was trained on)")
    parser.add_argument("-o", "--output", type=output_folder, default="visualize",
                        metavar="OUT_DIR",
                        help="folder for the PNGs (default visualize)")

    parser.add_argument("--units", type=positive_int, default=8,
                        help="units shown per layer, spread over its channels "
                             "(default 8)")
    parser.add_argument("--max-images", type=positive_int, default=1000,
                        help="search at most this many images (default 1000)")

    parser.set_defaults(handler=run)
    return parser


def run(args):
    """Write the pictures; return the exit status."""
    import time

    from nnscratch.visualize import visualize_checkpoint

    began = time.perf_counter()
    try:
        summary = visualize_checkpoint(args.checkpoint, args.output, data=args.data,
                                       units=args.units, max_images=args.max_images)
    except NotImplementedError as error:
        # The receptive-field arithmetic does not cover one of the
        # checkpoint's layers, so it is reported as bad input.
        raise ValueError(str(error)) from error
    print(summary["receptive_fields"], end="")
    convs = len(summary["layers"])
    print(f"searched {summary['images']} images; wrote filters.png and "
          f"top9_conv1..{convs}.png to {args.output} in "
          f"{time.perf_counter() - began:.1f} s")
    return 0
