"""``nnscratch bench``: the benchmark suite, as ``python -m benchmarks`` runs it."""

import os
import sys

# The suite lives in the top-level benchmarks/ folder of a source checkout,
# next to the nnscratch package; it is not part of the installed package.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _import_runner():
    """Import ``benchmarks.runner`` from the checkout, or return None."""
    if not os.path.isfile(os.path.join(CHECKOUT, "benchmarks", "runner.py")):
        return None
    if CHECKOUT not in sys.path:
        sys.path.insert(0, CHECKOUT)
    from benchmarks import runner

    return runner


def register(subparsers):
    parser = subparsers.add_parser(
        "bench", help="time nnscratch against PyTorch and NumPy references",
        description="Run the benchmark groups (all, or those named), print a "
                    "Markdown table and write it with a JSON of the raw times. "
                    "Needs a source checkout, whose benchmarks/ folder holds the "
                    "suite, and torch for the PyTorch comparisons.",
    )
    runner = _import_runner()
    if runner is not None:
        runner.build_parser(parser)
    parser.set_defaults(handler=run)


def run(args):
    runner = _import_runner()
    if runner is None:
        print(f"error: no benchmarks/ folder next to the nnscratch package in "
              f"{CHECKOUT}; nnscratch bench runs from a source checkout "
              "(git clone, then pip install -e '.[bench]')", file=sys.stderr)
        return 2
    if sys.argv[1:2] == ["bench"]:
        # Started as the nnscratch command: restart as python -m benchmarks
        # with the thread settings the suite runs under.
        runner.restart_with_quiet_threads(sys.argv[2:])
    return runner.run_from_arguments(args, ["nnscratch", *sys.argv[1:]])
