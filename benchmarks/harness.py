"""What a benchmark file declares: cases of nnscratch against a reference.

Each ``benchmarks/bench_<group>.py`` defines ``cases(quick=False)``, which
yields ``Case`` objects. The runner calls each side once (compiling Numba
kernels), checks the two results agree, then times the sides interleaved.
"""

import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass
class Case:
    """One comparison: ``ours()`` against ``reference()``.

    Attributes
    ----------
    group, name : str
        Where the case is reported, e.g. ("detection", "nms 1,000 boxes").
    ours, reference : callable with no arguments
        Each returns its result; the runner times whole calls.
    reference_name : str
        What the reference is ("torch 2.13.0", "vectorised NumPy").
    check : callable(ours_result, reference_result) -> None
        Raises AssertionError when the two disagree.
    flops : int, optional
        Floating-point operations per call, for GFLOP/s.
    """

    group: str
    name: str
    ours: Callable
    reference: Optional[Callable]
    reference_name: str
    check: Optional[Callable] = None
    flops: Optional[int] = None
