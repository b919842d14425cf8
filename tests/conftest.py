"""Shared test set-up: Hypothesis profiles and the PyTorch oracle fixture.

Profiles (choose with ``HYPOTHESIS_PROFILE=ci`` or ``dev``):

- ``ci``: derandomised, no deadline, prints a reproduction blob on failure.
  It is the default when the ``CI`` environment variable is set.
- ``dev``: random draws and a few more examples for local runs. It is the
  default otherwise.

Both keep example counts small, because every example of a gradient property
runs two forward passes per input element.
"""

import os
import sys

import numba
import pytest
from hypothesis import HealthCheck, settings

# Layer tests call the kernels thousands of times on tiny arrays, where
# starting parallel threads costs far more than the work. An im2col of a
# (2, 2, 5, 5) input took 4.4 ms with 2 threads and 29 us with 1 on a loaded
# 2-core VM. tests/kernels runs the kernels with all threads again, so races
# would still show there.
numba.set_num_threads(1)

# Numba compiles (or loads from cache) on first call, and numerical gradients
# vary in cost with the drawn shape, so a per-example deadline only adds noise.
settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    print_blob=True,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=20,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

# Test modules import the shared helpers as top-level modules
# (``from gradcheck import check_layer_gradients``), in every pytest import mode.
_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

TORCH_SKIP_REASON = (
    "PyTorch is the test oracle and is not installed; "
    "install it with: pip install -e '.[oracle]'"
)


@pytest.fixture(scope="session")
def torch():
    """Return the ``torch`` module, single-threaded, or skip with a reason.

    Tests that take this fixture get the ``torch`` marker automatically.
    """
    torch = pytest.importorskip("torch", reason=TORCH_SKIP_REASON)
    # One thread: the test machines have two cores shared by parallel jobs.
    torch.set_num_threads(1)
    return torch


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "torch" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
