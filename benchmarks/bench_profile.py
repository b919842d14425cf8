"""Where the time of the largest course convolution goes, part by part.

The case is ``Conv2d(3, 16, 5, padding=2)`` forward and backward on a batch
of 32 x 3 x 224 x 224, split over threads as ``conv2d_forward`` does at the
current thread count (``runtime.batch_ranges``). With three input channels
the layer runs the direct kernels (``nnscratch.layers.conv_direct``). The
rows show both ways to compute it, each part timed over the whole batch
with the threads working at once as in the layer.

Direct path: the forward pass, the backward pass without the input gradient
(weight and bias gradients), and the whole backward pass. Each includes its
copies into padded buffers and out of them.

im2col path (what the layer did before the direct kernels, and still does
with more channels), cut into the layer's tiles (``tile_budget``): the
im2col copy (run twice per step, once in forward and once in backward), the
three GEMMs (forward, weight gradient, column gradient) and col2im. Each
part reuses one tile's buffers, so its data sits in cache as it does inside
the layer, and the inputs of every tile are distinct. The sum of these parts
leaves out the Python loop, allocation and the bias terms.

The last two rows are the whole layer on each path.
"""

import numpy as np

from benchmarks.harness import Case
from nnscratch import init, runtime
from nnscratch.kernels.im2col import col2im_tile, im2col_tile
from nnscratch.layers import Conv2d, conv_direct
from nnscratch.layers.conv import DEFAULT_MAX_COLS_BYTES, conv_tiles, tile_budget
from nnscratch.layers.conv_direct import (
    direct_backward_samples,
    direct_forward_samples,
)

GROUP = "profile"


def _parts(N, C, size, F, kernel, pad):
    init.manual_seed(0)
    conv = Conv2d(C, F, kernel, padding=pad)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, size, size), dtype=np.float32)
    dout = rng.standard_normal((N, F, size, size), dtype=np.float32)
    K = C * kernel * kernel
    W_matrix = conv.params["weight"].reshape(F, K)
    flops = 2 * N * F * size * size * K
    # The layer's own split of the batch over threads, and its tiles.
    ranges = runtime.batch_ranges(N, work_per_sample=flops // N)
    budget = tile_budget(DEFAULT_MAX_COLS_BYTES, split=len(ranges) > 1)
    tiles = {bounds: conv_tiles(bounds[1] - bounds[0], size, size, K * 4, budget,
                                start=bounds[0])
             for bounds in ranges}
    T = max((n1 - n0) * (r1 - r0) * size
            for part in tiles.values() for n0, n1, r0, r1 in part)
    buffers = {bounds: (np.empty(K * T, dtype=np.float32),
                        np.empty(F * T, dtype=np.float32),
                        np.empty((K, F), dtype=np.float32))
               for bounds in ranges}
    dx = np.zeros_like(x)
    dout_matrix = dout.reshape(N, F, size * size)
    geometry = (kernel, kernel, 1, 1, pad, pad, size, size)

    def views(bounds, n0, n1, r0, r1):
        """Return the tile's columns, output and dout as (K, T), (F, T), (F, T)."""
        cols_buffer, out_buffer, _ = buffers[bounds]
        width = (n1 - n0) * (r1 - r0) * size
        if n1 - n0 == 1:
            tile_dout = dout_matrix[n0, :, r0 * size : r0 * size + width]
        else:
            tile_dout = dout[n0:n1].transpose(1, 0, 2, 3).reshape(F, width)
        return (cols_buffer[: K * width].reshape(K, width),
                out_buffer[: F * width].reshape(F, width), tile_dout)

    def over_tiles(work):
        """Return a call that runs ``work(bounds, tile)`` on every tile, with
        the ranges split over threads as the layer splits them."""
        def run_range(n_lo, n_hi):
            for tile in tiles[n_lo, n_hi]:
                work((n_lo, n_hi), *tile)
        return lambda: runtime.map_batch(run_range, ranges)

    def im2col_part(bounds, n0, n1, r0, r1):
        im2col_tile(x, n0, n1, r0, r1, *geometry, views(bounds, n0, n1, r0, r1)[0])

    def gemm_part(kind):
        def work(bounds, n0, n1, r0, r1):
            tile_cols, tile_out, tile_dout = views(bounds, n0, n1, r0, r1)
            if kind == "forward":
                np.matmul(W_matrix, tile_cols, out=tile_out)
            elif kind == "weight gradient":
                np.matmul(tile_cols, tile_dout.T, out=buffers[bounds][2])
            else:
                np.matmul(W_matrix.T, tile_dout, out=tile_cols)
        return work

    def col2im_part(bounds, n0, n1, r0, r1):
        col2im_tile(views(bounds, n0, n1, r0, r1)[0], n0, n1, r0, r1, *geometry, dx)

    weight, bias = conv.params["weight"], conv.params["bias"]
    pads = (pad,) * 4
    out = np.empty_like(dout)

    def over_ranges(work):
        """Return a call that runs ``work(n_lo, n_hi)`` on the layer's ranges."""
        return lambda: runtime.map_batch(work, ranges)

    def layer():
        conv.forward(x)
        conv.backward(dout)

    def im2col_layer():
        previous = conv_direct.DIRECT_MAX_CHANNELS
        conv_direct.DIRECT_MAX_CHANNELS = 0
        try:
            layer()
        finally:
            conv_direct.DIRECT_MAX_CHANNELS = previous

    label = (f"conv {C}->{F} {kernel}x{kernel}, {N}x{C}x{size}x{size}, "
             f"{len(ranges)} thread(s)")
    yield (f"{label}: direct forward",
           over_ranges(lambda lo, hi: direct_forward_samples(x, weight, bias, lo, hi,
                                                              pads, out)), flops)
    yield (f"{label}: direct weight and bias gradients",
           over_ranges(lambda lo, hi: direct_backward_samples(
               x, dout, weight, lo, hi, pads, None, True)), flops)
    yield (f"{label}: direct backward (with input gradient)",
           over_ranges(lambda lo, hi: direct_backward_samples(
               x, dout, weight, lo, hi, pads, dx, True)), 2 * flops)

    count = sum(len(part) for part in tiles.values())
    path = f"{label}, im2col path in {count // len(ranges)} tiles per thread"
    yield f"{path}: im2col (once)", over_tiles(im2col_part), None
    yield f"{path}: GEMM forward", over_tiles(gemm_part("forward")), flops
    yield (f"{path}: GEMM weight gradient", over_tiles(gemm_part("weight gradient")),
           flops)
    yield (f"{path}: GEMM column gradient", over_tiles(gemm_part("column gradient")),
           flops)
    yield f"{path}: col2im", over_tiles(col2im_part), None
    yield f"{path}: whole fwd+bwd", im2col_layer, 3 * flops
    yield f"{label}: whole fwd+bwd, direct path (the layer)", layer, 3 * flops


def cases(quick=False):
    """Yield one nnscratch-only case per part of the largest convolution."""
    shape = (2, 3, 32, 16, 5, 2) if quick else (32, 3, 224, 16, 5, 2)
    for name, run, flops in _parts(*shape):
        yield Case(GROUP, name, run, None, "", flops=flops)
