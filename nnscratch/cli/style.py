"""``nnscratch style [CONTENT STYLE] -o OUT.png``: neural style transfer."""

import sys

from nnscratch.cli import (
    IMAGE_SUFFIXES,
    non_negative_int,
    output_file,
    positive_float,
    positive_int,
    whole_number_at_least,
)


def register(subparsers):
    """Add the ``style`` command."""
    parser = subparsers.add_parser(
        "style", help="paint one photograph in the style of another",
        description=(
            "Generate an image with the content of CONTENT and the style of STYLE "
            "by minimising alpha * content cost + beta * style cost over its "
            "pixels, with gradients from the feature network's hand-written "
            "backward pass. Without images, scikit-image's astronaut is painted "
            "in the style of its immunohistochemistry slide."
        ),
    )
    parser.add_argument("images", nargs="*", metavar="CONTENT STYLE",
                        help="content and style image files (give both or neither)")
    parser.add_argument("-o", "--output", default="style.png",
                        type=output_file(*IMAGE_SUFFIXES),
                        help="PNG to write the generated image to (default style.png)")
    parser.add_argument("--figure", default=None, metavar="PNG",
                        type=output_file(*IMAGE_SUFFIXES),
                        help="also write content, style and output side by side")

    parser.add_argument("--size", type=whole_number_at_least(8), default=256,
                        help="longer side of the generated image in pixels; the "
                             "style image is resized to the same longer side "
                             "(default 256)")
    parser.add_argument("--steps", type=positive_int, default=200,
                        help="L-BFGS iterations or Adam steps (default 200)")
    parser.add_argument("--alpha", type=float, default=1.0,
                        help="weight of the content cost (default 1)")
    parser.add_argument("--beta", type=float, default=None,
                        help="weight of the style cost (default: the network's, "
                             "1000 for the random network)")

    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                        help="L-BFGS-B with pixel bounds, or Adam with clipping "
                             "(default lbfgs)")
    parser.add_argument("--lr", type=positive_float, default=0.02,
                        help="Adam's step size in pixel units, pixels being in "
                             "[0, 1] (default 0.02)")
    parser.add_argument("--init", choices=("noise", "content", "mixed"),
                        default="noise",
                        help="starting image: uniform noise, the content image, or "
                             "0.6 noise + 0.4 content (default noise)")
    parser.add_argument("--save-every", type=non_negative_int, default=0, metavar="K",
                        help="save the image every K steps next to OUT.png as "
                             "OUT_step_<step>.png (default 0: never)")

    parser.add_argument("--vgg19", default=None, metavar="NPZ",
                        help="use VGG-19 weights from this .npz (torchvision key "
                             "names; see docs/style.md) instead of the default "
                             "network of fixed random filters")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the random filters and the starting noise "
                             "(default 0)")

    parser.set_defaults(handler=run)
    return parser


def _check_arguments(args):
    """Return an error message for invalid arguments, or None."""
    if len(args.images) not in (0, 2):
        return (f"give a content and a style image, or neither, got "
                f"{len(args.images)} image(s)")
    if args.alpha < 0 or (args.beta is not None and args.beta < 0):
        return f"--alpha and --beta must be >= 0, got {args.alpha} and {args.beta}"
    return None


def _check_sides(network, images, size):
    """Return an error message if an image is too small for the network's pools."""
    from nnscratch.layers import AvgPool2d, MaxPool2d

    pools = sum(isinstance(layer, (AvgPool2d, MaxPool2d))
                for layer in network.model.layers)
    smallest = 2**pools
    for name, image in images.items():
        height, width = image.shape[:2]
        if min(height, width) < smallest:
            return (f"--size {size} makes {name} {height}x{width} pixels, but the "
                    f"network's {pools} pools need at least {smallest} pixels a "
                    "side; use a larger --size")
    return None


def run(args):
    """Run the transfer, write the image (and figure); return the exit status."""
    import os

    import numba

    from nnscratch.data.images import load_image, save_image
    from nnscratch.style import (
        load_vgg19_npz,
        random_multiscale_network,
        style_transfer,
    )
    from nnscratch.style.images import (
        DEFAULT_CONTENT,
        DEFAULT_STYLE,
        bundled_photograph,
        resize_longer_side,
        side_by_side,
    )

    problem = _check_arguments(args)
    if problem:
        raise ValueError(problem)
    if args.images:
        content, style = (load_image(path) for path in args.images)
        names = [os.path.basename(path) for path in args.images]
    else:
        content = bundled_photograph(DEFAULT_CONTENT)
        style = bundled_photograph(DEFAULT_STYLE)
        names = [DEFAULT_CONTENT, DEFAULT_STYLE]
    if args.vgg19:
        network = load_vgg19_npz(args.vgg19)
    else:
        network = random_multiscale_network(seed=args.seed)
    content = resize_longer_side(content, args.size)
    style = resize_longer_side(style, args.size)
    problem = _check_sides(network, {names[0]: content, names[1]: style}, args.size)
    if problem:
        raise ValueError(problem)

    stem = os.path.splitext(args.output)[0]
    save_dir = os.path.dirname(os.path.abspath(args.output))
    print(f"content {names[0]} {content.shape[1]}x{content.shape[0]}, style "
          f"{names[1]} {style.shape[1]}x{style.shape[0]}, network: "
          f"{network.description}, {numba.get_num_threads()} Numba thread(s)",
          file=sys.stderr)
    result = style_transfer(
        content, style, network, alpha=args.alpha, beta=args.beta, steps=args.steps,
        method=args.optimizer, init=args.init, lr=args.lr, seed=args.seed,
        progress=True, save_every=args.save_every, save_dir=save_dir,
        save_prefix=os.path.basename(stem) + "_",
    )
    save_image(args.output, result.image)
    if args.figure:
        save_image(args.figure, side_by_side(
            [content, style, result.image],
            [f"content: {names[0]}", f"style: {names[1]}", "output"]))

    first, last = result.history[0], result.history[-1]
    print(f"wrote {args.output} in {result.seconds:.1f} s ({result.evaluations} "
          f"evaluations); total cost {first['total']:.4g} -> {last['total']:.4g} "
          f"({result.cost_ratio:.1f}x lower); content {last['content']:.4g}, "
          f"style {last['style']:.4g}")
    return 0
