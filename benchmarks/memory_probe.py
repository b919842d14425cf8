"""Measure the peak memory of training steps in this process, for ``bench_memory``.

Usage (one network and one side per fresh process)::

    python -m benchmarks.memory_probe {yolo,classifier} {ours,torch} [--quick]

The process builds the network and its batch, runs one training step of the
quick (tiny) network so that kernels are compiled or loaded and libraries are
initialised, then records its resident set size (RSS) as the baseline. It
resets the kernel's peak-RSS counter (``VmHWM``, by writing 5 to
``/proc/self/clear_refs``), runs ``--steps`` training steps and prints one
JSON line: the peak RSS during those steps minus the baseline, in MiB. Where
the counter cannot be reset, it falls back to ``resource.getrusage``'s
``ru_maxrss``, whose peak then also covers the set-up.
"""

import argparse
import gc
import json
import resource

from benchmarks.harness import set_threads
from benchmarks.networks import NETWORKS, ours_step, torch_step


def _status_mib(field):
    with open("/proc/self/status", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # the kernel reports kB
    raise OSError(f"{field} is missing from /proc/self/status")


def reset_peak():
    """Reset the peak-RSS counter; return the method the peak is read with."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as stream:
            stream.write("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"


def peak_mib(method):
    """Return the peak RSS in MiB since ``reset_peak`` (or since start)."""
    if method == "VmHWM":
        return _status_mib("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", choices=NETWORKS)
    parser.add_argument("side", choices=("ours", "torch"))
    parser.add_argument("--quick", action="store_true", help="the tiny network")
    parser.add_argument("--steps", type=int, default=3,
                        help="training steps measured (default 3)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    make_step = ours_step if args.side == "ours" else torch_step
    if args.side == "torch":
        import torch  # noqa: F401 - imported before set_threads limits it

    set_threads(args.threads)
    warm_up = make_step(args.network, quick=True)
    (warm_up if args.side == "torch" else warm_up[0])()
    step = make_step(args.network, args.quick)
    if args.side == "ours":
        step = step[0]
    del warm_up
    gc.collect()

    baseline = _status_mib("VmRSS")
    method = reset_peak()
    for _ in range(args.steps):
        step()
    peak = peak_mib(method)
    print(json.dumps({"network": args.network, "side": args.side,
                      "baseline_mib": baseline, "peak_mib": peak,
                      "increase_mib": peak - baseline, "method": method}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
