"""Run benchmark groups and write their table (Markdown) and raw numbers (JSON).

Usage::

    python -m benchmarks [GROUP ...] [--quick] [--threads 1 2] [--out DIR]

Every ``benchmarks/bench_<group>.py`` is a group; with no GROUP all of them
run. The "gemm" group runs first whenever a group that counts FLOPs runs,
because those rows report their GFLOP/s as a fraction of its ceiling.
"""

import argparse
import datetime
import json
import os
import pkgutil
import sys
import time
import traceback
from importlib import import_module

import benchmarks
from benchmarks.harness import describe_environment, set_threads, time_case
from benchmarks.report import markdown_table
from nnscratch.cli import output_folder

# Groups in the order they run; groups not listed here run after them.
ORDER = ("gemm", "layers", "profile", "detection", "train", "memory", "startup")
# Groups whose rows count FLOPs, and so need the ceiling of the "gemm" group.
CEILING_USERS = ("layers", "profile", "detection", "train")
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), "results")


def available_groups():
    """Return the group names of every ``bench_*.py`` module, in run order."""
    modules = pkgutil.iter_modules(benchmarks.__path__)
    names = [info.name[len("bench_"):] for info in modules
             if info.name.startswith("bench_")]
    known = [name for name in ORDER if name in names]
    return known + sorted(set(names) - set(known))


def resolve_groups(requested):
    """Return the groups to run for the names in ``requested`` (all if empty)."""
    available = available_groups()
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ValueError(
            f"unknown benchmark group(s) {unknown}; choose from {available}"
        )
    chosen = set(requested or available)
    if chosen & set(CEILING_USERS):
        chosen.add("gemm")
    return [name for name in available if name in chosen]


def run_group(name, quick, threads, repeats, budget_s, only, log):
    """Run one group at ``threads`` threads; return (rows, failures).

    A case whose check or call raises becomes a failure (name and traceback)
    and the group goes on with its next case.
    """
    module = import_module(f"benchmarks.bench_{name}")
    # Again after the import: a BLAS loaded by it starts with its own default.
    set_threads(threads)
    rows, failures = [], []
    if hasattr(module, "measurements"):
        try:
            for measurement in module.measurements(quick=quick, threads=threads):
                if only in measurement.name:
                    rows.append(measurement.row())
                    log(f"  {measurement.name}: {measurement.ours:.3g} "
                        f"{measurement.unit}")
        except Exception:  # noqa: BLE001 - reported with its traceback
            failures.append((f"{name}", traceback.format_exc()))
        return rows, failures

    for case in module.cases(quick=quick):
        if only not in case.name:
            continue
        try:
            row = time_case(case, repeats, budget_s, min_repeats=min(3, repeats))
        except Exception:  # noqa: BLE001 - reported with its traceback
            failures.append((f"{name}: {case.name}", traceback.format_exc()))
            log(f"  {case.name}: FAILED")
            continue
        if quick:
            # Targets apply to the full shapes, not to the tiny quick ones.
            row.update(target_ratio=None, target_ceiling=None)
        rows.append(row)
        ratio = f", ratio {row['ratio']:.2f}" if "ratio" in row else ""
        log(f"  {case.name}: {row['ours_median_s'] * 1e3:.3g} ms{ratio}")
    return rows, failures


def run(groups, quick=False, threads=(1,), repeats=7, budget_s=20.0, only="",
        log=print):
    """Run ``groups`` at each thread count.

    Returns
    -------
    list of dict
        One per thread count: ``threads``, ``environment``, ``rows`` and
        ``failures`` (pairs of case name and traceback).
    """
    from nnscratch import runtime

    # The nnscratch command keeps large freed blocks in the heap. Both sides
    # share this process, so both run under the setting.
    allocator = ("glibc mallopt: mmap and trim thresholds 1 GiB "
                 "(nnscratch.runtime.keep_large_blocks)"
                 if runtime.keep_large_blocks() else "the C library's default")
    runs = []
    for count in threads:
        set_threads(count)
        log(f"threads: {count}")
        run_rows, run_failures = [], []
        for name in groups:
            log(f"group {name}")
            rows, failures = run_group(name, quick, count, repeats, budget_s,
                                       only, log)
            run_rows += rows
            run_failures += failures
        runs.append({"threads": count, "environment": describe_environment(),
                     "allocator": allocator, "rows": run_rows,
                     "failures": run_failures})
    return runs


def build_parser(parser=None):
    """Add the benchmark options to ``parser`` (a new one when None)."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m benchmarks",
            description="Time nnscratch against PyTorch and NumPy references.")
    parser.add_argument("groups", nargs="*", metavar="GROUP",
                        help=f"groups to run (default: all of {available_groups()})")
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes and one timing round, to check that "
                             "every benchmark still runs")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts for Numba, BLAS and torch; each runs "
                             "the whole selection (default: 1 2)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="most interleaved timing rounds per case (default 7)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per case after which timing stops once 3 "
                             "rounds are done (default 20)")
    parser.add_argument("--only", default="",
                        help="run only the cases whose name contains this text")
    # Checked at parsing, so that minutes of timings are not lost to a
    # mistyped path at the end.
    parser.add_argument("--out", type=output_folder, default=DEFAULT_OUT,
                        help="folder for results.md and results.json "
                             "(default: benchmarks/results)")
    return parser


def write_results(runs, out_dir, command):
    """Write results.md and results.json to ``out_dir``; return the table text."""
    table = markdown_table([(run["threads"], run["rows"]) for run in runs])
    notes = describe_run(runs)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as stream:
        stream.write(notes + "\n\n" + table + "\n")
    record = {"command": command,
              "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "runs": runs}
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=1)
    return notes + "\n\n" + table


def describe_run(runs):
    """Return the environment lines printed above the table."""
    environment = runs[0]["environment"]
    lines = [f"- machine: {environment['machine']}",
             f"- python {environment['python']}, numpy {environment['numpy']}, "
             f"numba {environment['numba']} (threading layer "
             f"{environment['numba_threading_layer']}), torch "
             f"{environment.get('torch', 'not installed')}"]
    for run in runs:
        env = run["environment"]
        lines.append(f"- {run['threads']} thread(s): Numba {env['numba_threads']}, "
                     f"nnscratch batch split {env.get('batch_threads', 1)}, "
                     f"torch {env.get('torch_threads', '-')}, BLAS: "
                     + "; ".join(env["blas"]))
    settings = ", ".join(f"{name}={value}" for name, value
                         in environment["environment"].items())
    lines.append(f"- environment: {settings}")
    allocator = runs[0].get("allocator", "not recorded")
    lines.append(f"- allocator in this process: {allocator}. The memory group's fresh "
                 "processes keep the default, and the startup group's nnscratch "
                 "command sets it itself")
    loads = ", ".join(f"{run['environment']['load_average'][0]:.2f}" for run in runs)
    lines.append(f"- 1-minute load average at the end of each thread count: {loads}")
    notes = {}
    for run in runs:
        for row in run["rows"]:
            if row["kind"] == "measurement" and row["note"]:
                notes.setdefault(row["group"], row["note"])
    lines += [f"- {group}: {note}" for group, note in notes.items()]
    return "\n".join(lines)


# Idle worker threads of OpenBLAS and of libgomp (torch's OpenMP pool, Numba's
# omp layer) spin for a while after each parallel region. In one process
# that alternates nnscratch and torch calls, each side's spinning workers
# took the cores from the other's next call: at 2 threads, the 16->32 5x5
# convolution's forward+backward took 604 ms (ours) and 213 ms (torch) with
# the defaults, and 277 ms and 163 ms with these settings.
QUIET_THREADS = {"GOMP_SPINCOUNT": "0", "OPENBLAS_THREAD_TIMEOUT": "1"}


def restart_with_quiet_threads(argv):
    """Re-run ``python -m benchmarks argv`` with ``QUIET_THREADS`` set.

    Both libraries read these variables once, when they start their thread
    pools, so the process must start with them. A variable the user has set
    is kept. Returns only when nothing was missing.
    """
    missing = {name: value for name, value in QUIET_THREADS.items()
               if name not in os.environ}
    if not missing:
        return
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    os.environ.update(missing)
    os.environ["PYTHONPATH"] = checkout if not path else checkout + os.pathsep + path
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "benchmarks", *argv])


def main(argv=None):
    """Run the benchmarks named in ``argv``; return 1 if any check failed."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    return run_from_arguments(args, ["python", "-m", "benchmarks", *argv])


def run_from_arguments(args, command):
    """Run the benchmarks for parsed ``args``; shared with ``nnscratch bench``.

    ``command`` is the command line recorded in results.json.
    """
    try:
        groups = resolve_groups(args.groups)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    repeats = 1 if args.quick else args.repeats

    began = time.perf_counter()
    runs = run(groups, args.quick, args.threads, repeats, args.budget, args.only,
               log=lambda text: print(text, file=sys.stderr, flush=True))
    text = write_results(runs, args.out, command)
    print(text)
    print(f"\nwrote {os.path.join(args.out, 'results.md')} and results.json "
          f"in {time.perf_counter() - began:.0f} s", file=sys.stderr)

    failures = [failure for run in runs for failure in run["failures"]]
    for name, trace in failures:
        print(f"\nFAILED {name}\n{trace}", file=sys.stderr)
    return 1 if failures else 0
