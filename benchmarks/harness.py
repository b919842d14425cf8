"""What a benchmark file declares, and how the runner times it.

Each ``benchmarks/bench_<group>.py`` defines ``GROUP`` and ``cases(quick=False)``,
which yields ``Case`` objects. The runner calls each side once (compiling Numba
kernels, reported as the first-call time), checks the two results agree, then
times the sides interleaved (ours, reference, ours, reference, ...) so that a
noisy machine slows both alike and their ratio survives.

A group whose numbers are not call times (peak memory, process start-up)
defines ``measurements(quick=False, threads=1)`` instead, which yields finished
``Measurement`` rows.
"""

import dataclasses
import gc
import importlib.util
import os
import platform
import sys
import time
from typing import Callable, Optional

import numpy as np


@dataclasses.dataclass
class Case:
    """One comparison: ``ours()`` against ``reference()``.

    Attributes
    ----------
    group, name : str
        Where the case is reported, e.g. ("detection", "nms 1,000 boxes").
    ours, reference : callable with no arguments
        Each returns its result; the runner times whole calls. ``reference``
        is None when there is nothing to compare with (PyTorch not installed).
    reference_name : str
        What the reference is ("torch 2.13.0", "vectorised NumPy").
    check : callable(ours_result, reference_result) -> None
        Raises AssertionError when the two disagree.
    flops : int, optional
        Floating-point operations per call, for GFLOP/s.
    ceiling : bool
        The case measures the GEMM ceiling that other cases are compared with.
    target_ratio : float, optional
        Largest acceptable median time ratio ours / reference.
    target_ceiling : float, optional
        Smallest acceptable fraction of the GEMM ceiling.
    """

    group: str
    name: str
    ours: Callable
    reference: Optional[Callable]
    reference_name: str
    check: Optional[Callable] = None
    flops: Optional[int] = None
    ceiling: bool = False
    target_ratio: Optional[float] = None
    target_ceiling: Optional[float] = None


@dataclasses.dataclass
class Measurement:
    """A finished comparison that is not a call time (bytes, process seconds).

    Attributes
    ----------
    group, name : str
    ours, reference : float
        The measured quantity of each side, in ``unit``; ``reference`` is None
        when there is nothing to compare with.
    unit : str
        "MiB" or "s".
    reference_name : str
    note : str
        How it was measured, in a few words.
    target_ratio : float, optional
        Largest acceptable ratio ours / reference.
    target_max : float, optional
        Largest acceptable value of ``ours``, in ``unit``.
    """

    group: str
    name: str
    ours: float
    reference: Optional[float]
    unit: str
    reference_name: str
    note: str = ""
    target_ratio: Optional[float] = None
    target_max: Optional[float] = None

    def row(self):
        """Return the result row that the report prints."""
        row = dataclasses.asdict(self)
        row["kind"] = "measurement"
        if self.reference:
            row["ratio"] = self.ours / self.reference
        return row


def import_torch():
    """Return the ``torch`` module, or None when it is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def torch_name():
    """Return "torch <version>" for reference names, or "" without torch."""
    torch = import_torch()
    return "" if torch is None else f"torch {torch.__version__}"


def assert_close(ours, reference, rtol=1e-4, name="result"):
    """Raise AssertionError unless two arrays agree to ``rtol`` of their scale.

    The absolute tolerance is ``rtol`` times the largest magnitude of
    ``reference``, because float32 sums of hundreds of terms lose digits in
    proportion to the terms, not to each (possibly tiny) result.
    """
    ours = np.asarray(ours)
    reference = np.asarray(reference)
    if ours.shape != reference.shape:
        raise AssertionError(
            f"{name}: shape {ours.shape} differs from the reference's "
            f"{reference.shape}"
        )
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=rtol * scale,
                               err_msg=name)


def spread(times):
    """Return the interquartile range of ``times`` over its median, a fraction."""
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float((q3 - q1) / median) if median > 0 else 0.0


def time_case(case, repeats, budget_s, min_repeats=3):
    """Run ``case`` once per side, check it, then time the sides interleaved.

    Rounds of one call per side run until ``repeats`` rounds are done, or
    ``min_repeats`` are done and ``budget_s`` seconds have passed.

    Returns
    -------
    dict
        ``first_s`` (first call of each side, which includes Numba compilation
        or cache loading), ``ours_s`` and ``reference_s`` (every timed call,
        seconds), and the summary statistics the report prints.
    """
    # As timeit does: the collector would run at random points inside calls.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _time_sides(case, repeats, budget_s, min_repeats)
    finally:
        if gc_was_enabled:
            gc.enable()


def _time_sides(case, repeats, budget_s, min_repeats):
    tick = time.perf_counter()
    ours_result = case.ours()
    ours_first = time.perf_counter() - tick
    reference_first = None
    if case.reference is not None:
        tick = time.perf_counter()
        reference_result = case.reference()
        reference_first = time.perf_counter() - tick
        if case.check is not None:
            case.check(ours_result, reference_result)
        del reference_result
    del ours_result

    sides = [(case.ours, [])]
    if case.reference is not None:
        sides.append((case.reference, []))
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats:
        for side, times in sides:
            tick = time.perf_counter()
            side()
            times.append(time.perf_counter() - tick)
        rounds += 1
        if rounds >= min_repeats and time.perf_counter() - start > budget_s:
            break
    return summarise(case, ours_first, reference_first, sides)


def summarise(case, ours_first, reference_first, sides):
    """Return the result row of ``time_case`` from the raw times."""
    ours = np.array(sides[0][1])
    row = {
        "kind": "time",
        "group": case.group, "name": case.name,
        "reference_name": case.reference_name, "flops": case.flops,
        "ceiling": case.ceiling, "target_ratio": case.target_ratio,
        "target_ceiling": case.target_ceiling,
        "first_s": {"ours": ours_first, "reference": reference_first},
        "ours_s": ours.tolist(),
        "ours_median_s": float(np.median(ours)), "ours_min_s": float(ours.min()),
        "ours_spread": spread(ours),
    }
    if len(sides) > 1:
        reference = np.array(sides[1][1])
        row.update({
            "reference_s": reference.tolist(),
            "reference_median_s": float(np.median(reference)),
            "reference_min_s": float(reference.min()),
            "reference_spread": spread(reference),
            # Ratio of each interleaved round, so drifts in load cancel.
            "ratio": float(np.median(ours / reference)),
        })
    if case.flops:
        row["ours_gflops"] = case.flops / row["ours_median_s"] / 1e9
        if len(sides) > 1:
            row["reference_gflops"] = case.flops / row["reference_median_s"] / 1e9
    return row


def set_threads(threads):
    """Use ``threads`` threads in every BLAS, in nnscratch's batch split, in
    Numba and, if imported, in torch.

    As under the ``nnscratch`` command (``nnscratch.runtime.configure``),
    layers split each batch over ``threads`` threads with one BLAS thread
    each. Numba's kernels get ``threads`` threads only when libgomp's idle
    threads sleep (``runtime.numba_threads_sleep_when_idle``; the suite
    restarts itself so that they do), and one otherwise. ``NUMBA_NUM_THREADS`` in the
    environment caps the Numba count.
    """
    import numba
    from threadpoolctl import threadpool_limits

    from nnscratch import runtime

    numba.set_num_threads(numba_threads(threads))
    runtime.set_batch_threads(threads)
    threadpool_limits(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def numba_threads(threads):
    """Return the Numba thread count that goes with ``threads`` BLAS threads."""
    from nnscratch import runtime

    import numba

    explicit = os.environ.get("NUMBA_NUM_THREADS")
    if explicit:
        return min(threads, int(explicit))
    if not runtime.numba_threads_sleep_when_idle():
        return 1
    return min(threads, numba.config.NUMBA_NUM_THREADS)


def thread_environment(threads):
    """Return environment variables that start a process with ``threads`` threads."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return {"NUMBA_NUM_THREADS": str(numba_threads(threads)),
            **{name: str(threads) for name in names}}


# Settings that move the numbers as much as the code does; both sides run under
# the same ones, and the report states them.
ENVIRONMENT_VARIABLES = (
    "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX",
    "LD_PRELOAD", "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT", "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "NNSCRATCH_KERNELS",
)


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_environment():
    """Return the machine, library versions, BLAS and settings as a dict."""
    import numba
    from threadpoolctl import threadpool_info

    from nnscratch import runtime

    info = {
        "machine": f"{_cpu_model()}, {os.cpu_count()} logical CPUs, "
                   f"{platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.get_num_threads(),
        "batch_threads": runtime.batch_threads(),
        "numba_threading_layer": _numba_threading_layer(),
        "blas": [
            f"{pool['internal_api']} {pool['version']} "
            f"({pool.get('architecture', '?')}, {pool['num_threads']} threads) "
            f"in {os.path.basename(pool['filepath'])}"
            for pool in threadpool_info()
        ],
        "environment": {name: os.environ.get(name, "unset")
                        for name in ENVIRONMENT_VARIABLES},
        "load_average": os.getloadavg(),
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _numba_threading_layer():
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        # The layer is chosen on the first parallel call.
        return "not started yet"
