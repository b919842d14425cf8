"""Process-wide settings of the nnscratch command: allocator and threads."""

import os
import platform
import subprocess
import sys

import numba
import pytest

from nnscratch import runtime


@pytest.fixture
def restore_numba_threads():
    previous = numba.get_num_threads()
    yield
    numba.set_num_threads(previous)


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


def test_one_numba_thread_by_default(monkeypatch, restore_numba_threads):
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert runtime.prefer_blas_threads() == 1
    assert numba.get_num_threads() == 1


def test_explicit_numba_thread_count_kept(monkeypatch, restore_numba_threads):
    monkeypatch.setenv("NUMBA_NUM_THREADS", str(numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert runtime.prefer_blas_threads() == numba.config.NUMBA_NUM_THREADS


def test_cli_applies_the_settings(monkeypatch):
    from nnscratch.cli import main

    calls = []
    monkeypatch.setattr(runtime, "configure", lambda: calls.append("configure"))
    assert main(["dataset", "export", "/nonexistent/\0bad"]) == 2
    assert calls == ["configure"]


BLAS_THREADS = "from nnscratch import runtime; print(runtime.blas_threads())"


@pytest.mark.skipif(runtime._openblas_thread_getter() is None,
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
