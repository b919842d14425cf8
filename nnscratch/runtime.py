"""Process-wide settings that make the library fast on a small CPU.

The library never changes these by itself: the ``nnscratch`` command applies
them when it starts (``configure``), and a script may call the functions
below. They change the whole process, so they belong to the program, not to
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
    On two cores, three kinds of threads compete: OpenBLAS's GEMM threads,
    Numba's parallel loops (OpenMP threading layer, libgomp) and, in this
    library, the batch split. ``configure`` arranges them so that they take
    turns instead of stealing each other's core:

    - ``set_batch_threads``: a convolution splits its batch into one range
      of samples per thread (``batch_ranges``), and ``map_batch`` runs the
      ranges at once, each GEMM on one BLAS thread (``one_blas_thread``).
      im2col and col2im then run on every core, not only the GEMMs.
      Forward+backward of the 16->32 5x5 layer on 32 x 16 x 112 x 112 took
      301 ms with two BLAS threads and 234 ms split over two threads (idle
      2-core AMD EPYC Zen 4 VM, ``python -m benchmarks layers --threads 2``).
    - ``configure`` then leaves numpy's OpenBLAS on one thread for every
      other GEMM too (fully connected layers, batches of one). Its idle
      workers spin after each multi-threaded GEMM and took the cores from
      the split: ``nnscratch train classifier`` (defaults, 2 threads) took
      73 s with two BLAS threads outside the split, 46 s with
      ``OPENBLAS_THREAD_TIMEOUT=1`` and 49 s with one BLAS thread; a short
      style transfer (``--size 128 --steps 60``) 8.6 s and 4.3 s.
    - ``quiet_idle_threads``: libgomp's idle threads spin for a while after
      each parallel loop and take the core from the batch split's other
      thread; ``GOMP_SPINCOUNT=0`` puts them to sleep at once.
      ``choose_numba_threads`` then gives Numba every thread. In two runs of
      ``python -m benchmarks train --threads 2`` a YOLO training step took
      218 and 206 ms with Numba on one thread and 183 and 167 ms with Numba
      on two (PyTorch: 215, 198, 182 and 177 ms in the same rounds).

    All of this changes process-wide state, so it is the program's choice:
    library code run without ``configure`` keeps one range per batch and
    whatever thread counts the environment gives.
"""

import concurrent.futures
import contextlib
import ctypes
import ctypes.util
import functools
import glob
import numbers
import os
import threading

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

LARGE_BLOCK_BYTES = 2**30

# A batch is split over threads only when each thread gets at least this
# much work (FLOPs), because handing a range to a pool thread and waiting for
# it costs tens of microseconds. NOTE: 2 MFLOP is an estimate from that cost
# (about 100 GFLOP/s per core), not a tuned value.
MIN_SPLIT_WORK = 2 * 10**6

_batch_threads = 1
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()
_in_pool = threading.local()

# How many ``one_blas_thread`` blocks are open, and the count to restore.
_one_thread_depth = 0
_blas_threads_before = 1
_blas_lock = threading.Lock()


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


def quiet_idle_threads():
    """Make libgomp's idle worker threads sleep at once instead of spinning.

    Sets ``GOMP_SPINCOUNT=0`` unless the environment already chooses a wait
    policy. libgomp (the OpenMP runtime behind Numba's parallel loops and
    PyTorch) reads it once, when it loads, so this works only before the
    first parallel Numba call or ``numba.set_num_threads``.

    Returns
    -------
    bool
        True when libgomp's idle threads sleep: the setting was made in time,
        or the environment asked for it.
    """
    chosen = "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ
    if not chosen and not _libgomp_loaded():
        os.environ["GOMP_SPINCOUNT"] = "0"
    # Once loaded, libgomp runs with the environment it saw then, which is
    # this one unless the program changed it since.
    return (os.environ.get("GOMP_SPINCOUNT") == "0"
            or os.environ.get("OMP_WAIT_POLICY", "").lower() == "passive")


def _libgomp_loaded():
    """Return True when libgomp is mapped into this process (Linux), or when
    that cannot be read."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return True


def numba_threads_sleep_when_idle():
    """Return True when Numba's parallel loops run on libgomp with idle
    threads that sleep (``quiet_idle_threads``).

    Starts Numba's threading layer if it has not started, which loads
    libgomp, so ``quiet_idle_threads`` runs first. Other layers (TBB,
    workqueue) return False: how their idle threads behave beside OpenBLAS
    was not measured.
    """
    import numba

    quiet = quiet_idle_threads()
    numba.get_num_threads()  # starts the threading layer
    return quiet and numba.threading_layer() == "omp"


def choose_numba_threads():
    """Give Numba's kernels all threads when idle OpenMP threads sleep, else one.

    ``NUMBA_NUM_THREADS``, when set, is kept. Otherwise the kernels use every
    thread Numba has if ``numba_threads_sleep_when_idle`` returns True, and
    one if not (another threading layer, or libgomp loaded with spinning
    threads).

    Returns
    -------
    int
        The Numba thread count now in use.
    """
    import numba

    try:
        if "NUMBA_NUM_THREADS" not in os.environ:
            all_threads = numba_threads_sleep_when_idle()
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS if all_threads else 1)
        return numba.get_num_threads()
    except ValueError as error:
        # Numba's message spans several lines; the first names the failure.
        layer = os.environ.get("NUMBA_THREADING_LAYER", "default")
        raise ValueError(
            f"Numba could not start its threading layer "
            f"(NUMBA_THREADING_LAYER={layer}): {str(error).splitlines()[0]} "
            "Unset NUMBA_THREADING_LAYER, or install the layer it names"
        ) from error


@functools.lru_cache(maxsize=1)
def _openblas_thread_functions():
    """Return numpy's bundled OpenBLAS ``(get_num_threads, set_num_threads)``.

    Returns None when numpy uses another BLAS, or an OpenBLAS without them.
    """
    import numpy as np

    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "")):
            getter = getattr(library, f"{prefix}openblas_get_num_threads{suffix}",
                             None)
            setter = getattr(library, f"{prefix}openblas_set_num_threads{suffix}",
                             None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                return getter, setter
    return None


def blas_threads():
    """Return the number of threads numpy's BLAS uses for a GEMM.

    Read from the OpenBLAS that numpy wheels bundle, so it follows
    ``OPENBLAS_NUM_THREADS`` and threadpoolctl's limits. Returns 1 when
    numpy uses another BLAS, whose thread count this does not read.
    """
    functions = _openblas_thread_functions()
    return max(1, int(functions[0]())) if functions is not None else 1


@contextlib.contextmanager
def one_blas_thread():
    """Run numpy's GEMMs on the calling thread inside the block.

    OpenBLAS then computes each product on the thread that calls it, so
    several Python threads can multiply at once, one core each. The thread
    count is process-wide: blocks entered from several threads at once share
    one setting, and the previous count comes back when the last of them
    exits. Meanwhile every other GEMM of the process runs on one thread too,
    and a convolution that does not split picks its tile size for one thread
    (``tile_budget``), so its result rounds as it would with one. Changes
    nothing when numpy's BLAS is not its bundled OpenBLAS.
    """
    global _one_thread_depth, _blas_threads_before
    functions = _openblas_thread_functions()
    if functions is None:
        yield
        return
    get_threads, set_threads = functions
    with _blas_lock:
        if _one_thread_depth == 0:
            _blas_threads_before = get_threads()
            set_threads(1)
        _one_thread_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _one_thread_depth -= 1
            if _one_thread_depth == 0:
                set_threads(_blas_threads_before)


def set_batch_threads(count):
    """Let layers split each batch over ``count`` threads (1 turns it off).

    Returns
    -------
    int
        The previous count.
    """
    global _batch_threads
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(
            f"set_batch_threads: count must be a whole number >= 1 (1 turns the "
            f"split off), got {count!r}"
        )
    previous, _batch_threads = _batch_threads, int(count)
    return previous


def batch_threads():
    """Return how many threads a layer may split its batch over."""
    return _batch_threads


def batch_ranges(N, work_per_sample=None):
    """Cut samples ``0:N`` into contiguous ranges, one per batch thread.

    Parameters
    ----------
    N : int
        Batch size.
    work_per_sample : int, optional
        FLOPs of one sample. The batch is cut into fewer ranges when needed
        so that each gets at least ``MIN_SPLIT_WORK``, and stays whole when
        it has less than twice that: waking a thread costs more than it saves.

    Returns
    -------
    list of (n0, n1)
        At most ``batch_threads()`` ranges of sizes differing by at most one.
    """
    parts = min(_batch_threads, N)
    if _openblas_thread_functions() is None:
        # Threads that each call a BLAS with its own thread pool would
        # oversubscribe the cores.
        parts = 1
    if work_per_sample is not None and MIN_SPLIT_WORK > 0:
        parts = min(parts, N * work_per_sample // MIN_SPLIT_WORK)
    parts = max(1, parts)
    bounds = [N * part // parts for part in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def map_batch(function, ranges):
    """Return ``[function(n0, n1) for n0, n1 in ranges]``, run concurrently.

    The first range runs on the calling thread and the others on the batch
    pool, all with one BLAS thread each (``one_blas_thread``). ``function``
    must touch only its own samples of any shared output. Every call
    finishes before this returns, even when an exception or Ctrl-C stops
    the calling thread's range, and the first exception is raised again.
    Called from inside ``function``, it runs the ranges one after another,
    because the pool's threads are busy with the outer call.
    """
    if len(ranges) <= 1 or getattr(_in_pool, "active", False):
        return [function(*bounds) for bounds in ranges]

    def pool_task(n0, n1):
        _in_pool.active = True
        try:
            return function(n0, n1)
        finally:
            _in_pool.active = False

    with one_blas_thread():
        futures = []
        _in_pool.active = True
        try:
            with _pool_lock:
                # Submitted under the lock, so that no other caller can
                # replace the pool between choosing it and submitting.
                pool = _batch_pool(len(ranges) - 1)
                for bounds in ranges[1:]:
                    futures.append(pool.submit(pool_task, *bounds))
            first = function(*ranges[0])
        finally:
            _in_pool.active = False
            _wait_for_all(futures)
    return [first] + [future.result() for future in futures]


def _wait_for_all(futures):
    """Wait until every future is done, even through Ctrl-C, and then raise
    KeyboardInterrupt if one arrived while waiting."""
    interrupted = False
    while True:
        try:
            concurrent.futures.wait(futures)
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt


def _batch_pool(workers):
    """Return a pool of at least ``workers`` threads, kept for the process.

    Call with ``_pool_lock`` held. A pool too small for the request is
    replaced, and its threads exit after finishing the work already
    submitted to them.
    """
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="nnscratch-batch")
        _pool_size = workers
    return _pool


def _forget_pool_after_fork():
    """Drop the parent's pool and locks in a forked child, which has none of
    the parent's threads: the old pool would wait for them forever."""
    global _pool, _pool_size, _pool_lock, _blas_lock, _one_thread_depth
    _pool, _pool_size = None, 0
    _pool_lock, _blas_lock = threading.Lock(), threading.Lock()
    if _one_thread_depth:
        # Forked inside a split, so the child gets the count from before it.
        _, set_threads = _openblas_thread_functions()
        set_threads(_blas_threads_before)
        _one_thread_depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def configure():
    """Apply these settings, as the ``nnscratch`` command does before any work.

    Large blocks stay in the heap, idle OpenMP threads sleep and Numba's
    kernels use every thread. Layers split each batch over as many threads
    as numpy's BLAS had. The BLAS itself then runs every GEMM on the thread
    that calls it, because its idle workers would otherwise spin beside the
    split's threads. (``OPENBLAS_THREAD_TIMEOUT`` would shorten the spin,
    but OpenBLAS reads it only when numpy loads.)
    """
    keep_large_blocks()
    choose_numba_threads()
    threads = blas_threads()
    set_batch_threads(threads)
    functions = _openblas_thread_functions()
    if threads > 1 and functions is not None:
        _, set_threads = functions
        set_threads(1)
