"""The switch between the Numba kernels and their NumPy twins."""

import os


def use_numba():
    """Return True unless ``NNSCRATCH_KERNELS=numpy`` selects the NumPy twins."""
    return os.environ.get("NNSCRATCH_KERNELS", "numba") != "numpy"
