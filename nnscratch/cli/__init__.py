"""The ``nnscratch`` command line: one subcommand per module in this package.

Each module ``nnscratch.cli.<name>`` defines ``register(subparsers)``, which adds
its parser and sets ``handler`` to a function taking the parsed arguments and
returning an exit status. Heavy imports happen inside the handlers, so
``nnscratch --help`` stays fast.
"""

import argparse
import importlib
import logging
import math
import os
import pkgutil
import sys


def build_parser():
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="nnscratch",
        description="Convolutional networks from scratch in NumPy and Numba.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log diagnostics and show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)
    _record_prog(parser)
    return parser


def _record_prog(parser, top=True):
    """Store each command's full name ("nnscratch train detector") as ``prog``,
    and let ``-v`` follow the command's name as well as precede it."""
    parser.set_defaults(prog=parser.prog)
    if not top:
        # SUPPRESS leaves the top-level value alone when -v is not repeated here.
        parser.add_argument("-v", "--verbose", action="store_true",
                            default=argparse.SUPPRESS,
                            help="log diagnostics and show tracebacks of errors")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _record_prog(child, top=False)


def main(argv=None):
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from nnscratch import runtime

    try:
        runtime.configure()
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, FloatingPointError) as error:
        # Bad input (an unreadable image, a wrong checkpoint, a bad label, a
        # folder that is a file) gets a one-line message. --verbose keeps the
        # traceback, which is what a bug report needs.
        if args.verbose:
            raise
        print(f"{args.prog}: {describe(error)} (run with -v for the traceback)",
              file=sys.stderr)
        return 2


def describe(error):
    """Return the message of ``error``, with the file name for an OSError."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.strerror}: {error.filename!r}"
    return str(error) or type(error).__name__


def whole_number_at_least(minimum):
    """Return an argparse type for integers >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


non_negative_int = whole_number_at_least(0)  # seeds
positive_int = whole_number_at_least(1)  # counts


def probability(text):
    """Parse an argument that must lie in [0, 1]: a score or IoU threshold."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {value}")
    return value


def positive_float(text):
    """Parse an argument that must be a finite number > 0, such as a rate."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _check_can_create(path, folder):
    """Raise unless ``folder``, where ``path`` will be written, exists or can
    be made. Messages name ``path`` as the user gave it."""
    ancestor = folder
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise argparse.ArgumentTypeError(
            f"{ancestor!r} is a file, so {path!r} cannot be created under it")
    if not os.access(ancestor, os.W_OK):
        raise argparse.ArgumentTypeError(f"no permission to write in {ancestor!r}")


def output_folder(text):
    """Parse a folder to write into, checked before any work starts.

    It may not exist yet (the command makes it), but it must not be a file.
    """
    if not text:
        raise argparse.ArgumentTypeError(
            "missing path (an empty string); give a folder, or . for the "
            "current one")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    _check_can_create(text, os.path.abspath(text))
    return text


def output_file(*suffixes):
    """Return an argparse type for a file to write, ending in one of ``suffixes``.

    The check runs before any work starts: the path must not be a folder, its
    folder must exist or be creatable, and its extension must be allowed.
    """
    def parse(text):
        if not text:
            raise argparse.ArgumentTypeError(
                f"missing path (an empty string); give a file ending in "
                f"{suffixes[0]}")
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(
                f"{text!r} is a folder, but a file ending in {suffixes[0]} is expected")
        if suffixes and os.path.splitext(text)[1].lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"{text!r} must end in {' or '.join(suffixes)}")
        _check_can_create(text, os.path.dirname(os.path.abspath(text)))
        return text

    parse.__name__ = "output file"
    return parse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show "(default: X)" after an option's help, unless X is None or False."""

    def _get_help_string(self, action):
        # "is", not "in": 0 == False, and a default of 0 is worth showing.
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


if __name__ == "__main__":
    sys.exit(main())
