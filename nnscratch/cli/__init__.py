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


if __name__ == "__main__":
    sys.exit(main())
