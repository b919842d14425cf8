"""Process-wide settings that make the library fast on a small CPU.

The library never changes these by itself: the ``nnscratch`` command applies
them when it starts (``configure``), and a script may call the functions
below. Both change the whole process, so they belong to the program, not to
a layer.

Large fresh arrays
    glibc serves an allocation above its mmap threshold with a fresh ``mmap``
    and unmaps it on ``free``, so the next array of that size page-faults on
    every page again. glibc raises the threshold as such blocks are freed,
    but never above 32 MiB, and one activation of the detector's first block
    (32 x 16 x 128 x 128 float32 values) is exactly 32 MiB.
    ``keep_large_blocks`` raises the threshold so that such blocks are
    reused from the heap. ``x * 2`` on that array took 5.5 ms with the
    default and 2.2 ms after (AMD EPYC Zen 4, one thread). Over 120 detector
    training steps the process took 102,000 minor page faults instead of
    439,000. Most of the difference falls in the first 30 steps, after which
    the step time was the same either way, so the setting matters most to
    short commands such as ``detect`` and ``evaluate``.

Threads
    Numba's parallel loops (OpenMP threading layer) and OpenBLAS each keep
    their worker threads spinning for a while after a parallel region, so on
    two cores the two pools take turns stealing each other's core. One
    detector training step (batch 32, 2-core AMD EPYC VM, otherwise idle)
    took 289-446 ms (median 312, three runs) with one Numba thread and two
    OpenBLAS threads. With two of each it took 444-503 ms, and with one of
    each 353-393 ms. ``prefer_blas_threads`` keeps the GEMMs parallel and runs
    the Numba kernels on one thread, unless ``NUMBA_NUM_THREADS`` is set.
"""

import ctypes
import ctypes.util
import functools
import glob
import os

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

LARGE_BLOCK_BYTES = 2**30


def keep_large_blocks(threshold=LARGE_BLOCK_BYTES):
    """Serve allocations below ``threshold`` bytes from the heap and keep freed
    heap memory mapped, so that arrays allocated on every step reuse pages.

    Returns
    -------
    bool
        True when glibc accepted both settings; False on other C libraries
        (musl, macOS, Windows), where nothing changes.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)
                and mallopt(_M_TRIM_THRESHOLD, threshold))


def prefer_blas_threads():
    """Run Numba kernels on one thread unless ``NUMBA_NUM_THREADS`` is set.

    Returns
    -------
    int
        The Numba thread count now in use.
    """
    import numba

    if "NUMBA_NUM_THREADS" not in os.environ:
        numba.set_num_threads(1)
    return numba.get_num_threads()


@functools.lru_cache(maxsize=1)
def _openblas_thread_getter():
    """Return numpy's bundled OpenBLAS ``get_num_threads``, or None if absent."""
    import numpy as np

    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_num_threads64_",
                     "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            getter = getattr(library, name, None)
            if getter is not None:
                getter.restype = ctypes.c_int
                return getter
    return None


def blas_threads():
    """Return the number of threads numpy's BLAS uses for a GEMM.

    Read from the OpenBLAS that numpy wheels bundle, so it follows
    ``OPENBLAS_NUM_THREADS`` and threadpoolctl's limits. Returns 1 when
    numpy uses another BLAS, whose thread count this does not read.
    """
    getter = _openblas_thread_getter()
    return max(1, int(getter())) if getter is not None else 1


def configure():
    """Apply both settings, as the ``nnscratch`` command does before any work."""
    keep_large_blocks()
    prefer_blas_threads()
