"""Process-wide settings of the nnscratch command: allocator and threads."""

import importlib.util
import os
import platform
import subprocess
import sys
import time

import numba
import pytest

from nnscratch import runtime


@pytest.fixture
def restore_numba_threads():
    previous = numba.get_num_threads()
    yield
    numba.set_num_threads(previous)


@pytest.fixture
def restore_spin_setting():
    previous = os.environ.get("GOMP_SPINCOUNT")
    yield
    if previous is None:
        os.environ.pop("GOMP_SPINCOUNT", None)
    else:
        os.environ["GOMP_SPINCOUNT"] = previous


REALLOCATE = """
import resource, sys
import numpy as np
from nnscratch import runtime
if sys.argv[1] == "keep":
    assert runtime.keep_large_blocks()
size = 40 * 2**20 // 8  # 40 MiB, above glibc's largest default mmap threshold
first = np.ones(size)
del first
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
second = np.ones(size)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults_of_reallocation(mode):
    """Return the minor page faults of refilling a freed 40 MiB array."""
    result = subprocess.run([sys.executable, "-c", REALLOCATE, mode],
                            capture_output=True, text=True, check=True)
    return int(result.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_keep_large_blocks_reuses_freed_pages():
    default = page_faults_of_reallocation("default")
    reused = page_faults_of_reallocation("keep")
    # By default the freed block went back to the kernel, so the new one
    # faults its pages in again (10,240 small pages, or 20 huge ones).
    assert default >= 20
    assert reused < default / 4, (reused, default)


NUMBA_THREADS = """
import os, sys
import numba
from nnscratch import runtime
if sys.argv[1] == "late":
    numba.get_num_threads()  # loads libgomp before the setting can be made
print(runtime.choose_numba_threads(), numba.config.NUMBA_NUM_THREADS,
      os.environ.get("GOMP_SPINCOUNT", "unset"))
"""


def numba_threads_chosen(when, **environment):
    """Return (threads chosen, Numba's maximum, GOMP_SPINCOUNT) in a fresh process."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "NUMBA_NUM_THREADS")}
    env.update(environment)
    result = subprocess.run([sys.executable, "-c", NUMBA_THREADS, when], env=env,
                            capture_output=True, text=True, check=True)
    chosen, maximum, spin = result.stdout.split()
    return int(chosen), int(maximum), spin


@pytest.mark.skipif(numba.threading_layer() != "omp",
                    reason="the setting is for libgomp, Numba's OpenMP layer")
def test_numba_all_threads_when_quiet():
    chosen, maximum, spin = numba_threads_chosen("early")
    assert (chosen, spin) == (maximum, "0")


@pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc/self/maps")
def test_one_numba_thread_when_spinning():
    chosen, _, spin = numba_threads_chosen("late")
    assert (chosen, spin) == (1, "unset")


def test_explicit_thread_settings_kept():
    chosen, maximum, spin = numba_threads_chosen("early", GOMP_SPINCOUNT="1000",
                                                 NUMBA_NUM_THREADS="1")
    assert (chosen, spin) == (1, "1000")
    chosen, maximum, spin = numba_threads_chosen("late", OMP_WAIT_POLICY="passive")
    assert chosen == maximum


def test_cli_applies_the_settings(monkeypatch):
    from nnscratch.cli import main

    calls = []
    monkeypatch.setattr(runtime, "configure", lambda: calls.append("configure"))
    assert main(["dataset", "export", "/nonexistent/\0bad"]) == 2
    assert calls == ["configure"]


BLAS_THREADS = "from nnscratch import runtime; print(runtime.blas_threads())"


@pytest.mark.skipif(runtime._openblas_thread_functions() is None,
                    reason="numpy does not use its bundled OpenBLAS here")
@pytest.mark.parametrize("threads", [1, 2])
def test_blas_threads_follows_openblas_setting(threads):
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, "-c", BLAS_THREADS], env=environment,
                            capture_output=True, text=True, check=True)
    assert int(result.stdout) == threads


def test_conv_tiles_grow_with_blas_threads(monkeypatch):
    from nnscratch.layers import conv

    monkeypatch.setattr(runtime, "blas_threads", lambda: 1)
    assert conv.tile_budget(2**20) == 2**20
    monkeypatch.setattr(runtime, "blas_threads", lambda: 2)
    assert conv.tile_budget(2**20) == 2**20 * conv.MULTITHREAD_TILE_FACTOR
    # A batch split over threads multiplies on one BLAS thread each.
    assert conv.tile_budget(2**20, split=True) == 2**20 * conv.SPLIT_TILE_FACTOR


@pytest.fixture
def restore_batch_threads():
    previous = runtime.batch_threads()
    yield
    runtime.set_batch_threads(previous)


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_set_batch_threads_rejects_non_counts(count):
    with pytest.raises(ValueError, match=repr(count).replace("(", r"\(")):
        runtime.set_batch_threads(count)


needs_openblas = pytest.mark.skipif(
    runtime._openblas_thread_functions() is None,
    reason="numpy does not use its bundled OpenBLAS here")


@needs_openblas
@pytest.mark.parametrize("N, threads", [(1, 2), (2, 2), (7, 3), (32, 2), (5, 8)])
def test_batch_ranges_cover_evenly(restore_batch_threads, N, threads):
    runtime.set_batch_threads(threads)
    ranges = runtime.batch_ranges(N)
    assert len(ranges) == min(N, threads)
    assert ranges[0][0] == 0
    assert ranges[-1][1] == N
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sizes = [n1 - n0 for n0, n1 in ranges]
    assert max(sizes) - min(sizes) <= 1


@needs_openblas
def test_small_work_stays_on_one_thread(restore_batch_threads):
    runtime.set_batch_threads(2)
    per_sample = runtime.MIN_SPLIT_WORK // 4
    assert runtime.batch_ranges(4, per_sample) == [(0, 4)]
    assert len(runtime.batch_ranges(8, per_sample)) == 2


def test_map_batch_keeps_range_order():
    ranges = [(0, 3), (3, 5), (5, 9)]
    assert runtime.map_batch(lambda n0, n1: list(range(n0, n1)), ranges) == [
        [0, 1, 2], [3, 4], [5, 6, 7, 8]]


def test_map_batch_waits_before_raising():
    finished = []

    def work(n0, n1):
        if n0 == 0:
            raise RuntimeError("first range failed")
        time.sleep(0.05)
        finished.append(n0)

    with pytest.raises(RuntimeError, match="first range failed"):
        runtime.map_batch(work, [(0, 1), (1, 2), (2, 3)])
    assert sorted(finished) == [1, 2]


@needs_openblas
def test_map_batch_gemms_use_one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        seen = runtime.map_batch(lambda n0, n1: runtime.blas_threads(),
                                 [(0, 1), (1, 2)])
        assert seen == [1, 1]
        assert runtime.blas_threads() == 2


@needs_openblas
def test_configure_moves_blas_threads_to_split(restore_numba_threads,
                                               restore_batch_threads,
                                               restore_spin_setting):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        runtime.configure()
        assert runtime.batch_threads() == 2
        # Every GEMM outside the split runs on the calling thread too, so no
        # idle OpenBLAS worker spins beside the split's threads.
        assert runtime.blas_threads() == 1


def test_nested_map_batch_runs_in_turn():
    def outer(n0, n1):
        return runtime.map_batch(lambda a, b: (a, b), [(n0, n0 + 1), (n0 + 1, n1)])

    assert runtime.map_batch(outer, [(0, 2), (2, 4)]) == [
        [(0, 1), (1, 2)], [(2, 3), (3, 4)]]


@needs_openblas
def test_concurrent_splits_restore_blas_threads():
    import threading

    from threadpoolctl import threadpool_limits

    def busy(n0, n1):
        time.sleep(0.001)
        return runtime.blas_threads()

    def caller(seen):
        for _ in range(50):
            seen.extend(runtime.map_batch(busy, [(0, 1), (1, 2)]))

    with threadpool_limits(2, user_api="blas"):
        seen = [[], []]
        callers = [threading.Thread(target=caller, args=(part,)) for part in seen]
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join()
        assert set(seen[0] + seen[1]) == {1}
        assert runtime.blas_threads() == 2


def test_map_batch_of_no_ranges_is_empty():
    assert runtime.map_batch(lambda n0, n1: n0, []) == []


def test_set_batch_threads_takes_numpy_integers(restore_batch_threads):
    import numpy as np

    runtime.set_batch_threads(np.int64(2))
    assert runtime.batch_threads() == 2


def test_harness_numba_threads_capped(monkeypatch):
    from benchmarks.harness import numba_threads

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    assert 1 <= numba_threads(4 * numba.config.NUMBA_NUM_THREADS) <= (
        numba.config.NUMBA_NUM_THREADS)


FORKED_SPLIT = """
import os, signal, sys
from nnscratch import runtime
runtime.set_batch_threads(2)
assert runtime.map_batch(lambda n0, n1: n1 - n0, [(0, 1), (1, 3)]) == [1, 2]
pid = os.fork()
if pid == 0:
    signal.alarm(20)  # a hung child dies instead of hanging the test
    ok = runtime.map_batch(lambda n0, n1: n1 - n0, [(0, 1), (1, 3)]) == [1, 2]
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_new_pool():
    result = subprocess.run([sys.executable, "-c", FORKED_SPLIT], capture_output=True,
                            text=True, check=True, timeout=60)
    assert result.stdout.strip() == "0", result.stderr


def test_concurrent_callers_survive_pool_growth(restore_batch_threads):
    import threading

    runtime.set_batch_threads(4)
    errors = []

    def caller(range_count):
        try:
            ranges = [(i, i + 1) for i in range(range_count)]
            assert runtime.map_batch(lambda n0, n1: n0, ranges) == list(
                range(range_count))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(200):
            with runtime._pool_lock:
                runtime._pool, runtime._pool_size = None, 0
            callers = [threading.Thread(target=caller, args=(count,))
                       for count in (2, 4)]
            for thread in callers:
                thread.start()
            for thread in callers:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


SECOND_CTRL_C = """
import os, signal, threading, time
from nnscratch import runtime
done = []

def work(n0, n1):
    if n0 == 0:
        # A second Ctrl-C while map_batch waits for the pool's range.
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        raise KeyboardInterrupt
    time.sleep(0.5)
    done.append(n0)

try:
    runtime.map_batch(work, [(0, 1), (1, 2)])
except KeyboardInterrupt:
    print(done)
"""


def test_ctrl_c_waits_for_pool():
    result = subprocess.run([sys.executable, "-c", SECOND_CTRL_C], capture_output=True,
                            text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[1]", result.stderr


MISSING_LAYER = """
from nnscratch import runtime
try:
    runtime.choose_numba_threads()
except ValueError as error:
    print(error)
"""


@pytest.mark.skipif(importlib.util.find_spec("tbb") is not None,
                    reason="TBB is installed, so its layer starts")
def test_missing_threading_layer_named():
    env = {**os.environ, "NUMBA_THREADING_LAYER": "tbb"}
    env.pop("NUMBA_NUM_THREADS", None)
    result = subprocess.run([sys.executable, "-c", MISSING_LAYER], env=env,
                            capture_output=True, text=True, check=True, timeout=60)
    message = result.stdout.strip()
    assert message.startswith("Numba could not start its threading layer "
                              "(NUMBA_THREADING_LAYER=tbb)")
    assert "\n" not in message
