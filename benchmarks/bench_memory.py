"""Peak memory of a training step, nnscratch against PyTorch, in fresh processes.

Each side of each network runs in its own process (``benchmarks.memory_probe``)
so that neither inherits the other's allocations or allocator caches. The
number is the peak resident set size during three training steps (one in
quick mode) minus the resident set size just before them, after a warm-up
step of a tiny network.
"""

import json
import os
import subprocess
import sys

from benchmarks.harness import Measurement, import_torch, thread_environment, torch_name
from benchmarks.networks import NETWORKS

GROUP = "memory"
TARGET_RATIO = 2.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def steps(quick):
    """Return how many training steps a probe measures."""
    return 1 if quick else 3


def probe(network, side, quick, threads):
    """Run ``memory_probe`` in a fresh process and return its JSON record."""
    command = [sys.executable, "-m", "benchmarks.memory_probe", network, side,
               "--threads", str(threads)]
    if quick:
        command.append("--quick")
    command += ["--steps", str(steps(quick))]
    environment = {**os.environ, **thread_environment(threads)}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [ROOT, environment.get("PYTHONPATH")]))
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env=environment, cwd=ROOT, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(
            f"memory probe {network} {side} failed with exit status "
            f"{result.returncode}:\n{result.stderr[-2000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measurements(quick=False, threads=1):
    """Yield the peak-memory increase of training steps, one row per network."""
    has_torch = import_torch() is not None
    # Each probe is a fresh process that imports the libraries again, so quick
    # mode, which only checks that the probes still run, measures one network.
    for network in ("classifier",) if quick else NETWORKS:
        ours = probe(network, "ours", quick, threads)
        reference = probe(network, "torch", quick, threads) if has_torch else None
        method = ours["method"]
        note = (f"peak RSS during {steps(quick)} training step(s) minus RSS before "
                "them, each side "
                f"in a fresh process ({method}"
                + (", reset after warm-up)" if method == "VmHWM" else ")"))
        yield Measurement(
            GROUP, f"{network} train step peak memory", ours["increase_mib"],
            None if reference is None else reference["increase_mib"], "MiB",
            torch_name(), note=note,
            target_ratio=None if quick else TARGET_RATIO)
