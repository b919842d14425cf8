"""The ``nnscratch`` command line: one subcommand per module in this package.

Each module ``nnscratch.cli.<name>`` defines ``register(subparsers)``, which adds
its parser and sets ``handler`` to a function taking the parsed arguments and
returning an exit status. Heavy imports happen inside the handlers, so
``nnscratch --help`` stays fast.
"""

import argparse
import importlib
import logging
import pkgutil
import sys


def build_parser():
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="nnscratch",
        description="Convolutional networks from scratch in NumPy and Numba.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log diagnostics to standard error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv=None):
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        # Bad input (an unreadable image, a wrong checkpoint, a bad label) gets a
        # one-line message. Other errors are bugs, so they keep their traceback,
        # and --verbose keeps it for every error.
        if args.verbose or not isinstance(error, input_errors()):
            raise
        print(f"nnscratch {args.command}: {error}", file=sys.stderr)
        return 2


def input_errors():
    """Return the exception types that mean bad input rather than a bug."""
    from nnscratch.checkpoint import CheckpointError
    from nnscratch.data.idx import IdxFormatError
    from nnscratch.data.images import ImageReadError
    from nnscratch.detector.yolo_format import LabelError
    from nnscratch.trainer import NonFiniteLossError

    return (CheckpointError, IdxFormatError, ImageReadError, LabelError,
            NonFiniteLossError, FileNotFoundError)


if __name__ == "__main__":
    sys.exit(main())
