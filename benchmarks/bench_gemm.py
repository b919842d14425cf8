"""The ceiling: float32 GEMM throughput of numpy's BLAS, against torch.mm.

An im2col convolution spends most of its time in one matrix product, so the
best GFLOP/s that numpy's BLAS reaches on large square products is the
practical limit of every convolution in ``bench_layers``. The runner takes the
best "square" case of this group as the ceiling of its thread count.

The thin cases have the shapes of the course's first convolution (16 filters
of 3 x 5 x 5 over 4 samples of 224 x 224 outputs), whose inner dimension of 75
keeps BLAS far below the ceiling.
"""

import numpy as np

from benchmarks.harness import Case, assert_close, import_torch, torch_name

GROUP = "gemm"


def _matrices(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b


def _gemm_case(label, m, k, n, ceiling):
    a, b = _matrices(m, k, n)
    out = np.empty((m, n), dtype=np.float32)
    torch = import_torch()
    reference = None
    if torch is not None:
        a_t, b_t = torch.from_numpy(a), torch.from_numpy(b)
        out_t = torch.empty((m, n))

        def reference():
            return torch.mm(a_t, b_t, out=out_t).numpy()

    return Case(
        GROUP, f"{label} {m}x{k} @ {k}x{n}",
        lambda: np.matmul(a, b, out=out), reference, torch_name() + " torch.mm",
        check=lambda ours, ref: assert_close(ours, ref, 1e-4, "product"),
        flops=2 * m * k * n, ceiling=ceiling,
    )


def cases(quick=False):
    """Yield square products (the ceiling) and thin conv-shaped ones."""
    sizes = (256,) if quick else (1024, 2048)
    for size in sizes:
        yield _gemm_case("square", size, size, size, ceiling=True)
    columns = 4 * 16 * 16 if quick else 4 * 224 * 224
    yield _gemm_case("conv forward", 16, 75, columns, ceiling=False)
    yield _gemm_case("conv dcols", 75, 16, columns, ceiling=False)
