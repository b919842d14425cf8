"""Run kernel tests with every Numba thread, so parallel loops really split."""

import numba
import pytest


@pytest.fixture(scope="module", autouse=True)
def all_numba_threads():
    previous = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    yield
    numba.set_num_threads(previous)
