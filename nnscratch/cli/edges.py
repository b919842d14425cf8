"""``nnscratch edges [IMAGE] -o OUT.png``: the course's edge kernels on a photograph."""

from nnscratch.cli import IMAGE_SUFFIXES, non_negative_int, output_file


def register(subparsers):
    """Add the ``edges`` command."""
    parser = subparsers.add_parser(
        "edges", help="apply the vertical, horizontal and Sobel kernels to a photo",
        description=(
            "Convolve a photograph (grey) with the course's vertical [1 0 -1] and "
            "horizontal edge kernels and with Sobel in both directions, through "
            "nnscratch's Conv2d, and write the input and every response side by "
            "side as a PNG."
        ),
    )
    parser.add_argument("image", nargs="?", default=None,
                        help="photograph to read (default: scikit-image's camera)")
    parser.add_argument("-o", "--output", default="edges.png",
                        type=output_file(*IMAGE_SUFFIXES),
                        help="PNG to write (default edges.png)")
    parser.add_argument("--max-side", type=non_negative_int, default=1024,
                        help="shrink photographs whose longer side exceeds this many "
                             "pixels first; 0 keeps the full size (default 1024)")
    parser.set_defaults(handler=run)
    return parser


def run(args):
    """Write the edge figure; return the exit status."""
    import time

    from nnscratch.data.images import save_image
    from nnscratch.edges import edges_of_photograph

    began = time.perf_counter()
    figure, responses = edges_of_photograph(args.image, args.max_side or None)
    save_image(args.output, figure)
    seconds = time.perf_counter() - began
    OH, OW = responses["vertical"].shape
    source = args.image or "scikit-image camera"
    print(f"{source}: responses of {OH}x{OW} pixels written to {args.output} "
          f"({figure.shape[1]}x{figure.shape[0]} PNG) in {seconds:.2f} s")
    return 0
