"""Where the time of the largest course convolution goes, part by part.

The case is ``Conv2d(3, 16, 5, padding=2)`` forward and backward on a batch
of 32 x 3 x 224 x 224, cut into the tiles that ``conv2d_forward`` uses at the
current thread count. Each row times one part over every tile of the batch:
the im2col copy (run twice per step, once in forward and once in backward),
the three GEMMs (forward, weight gradient, column gradient) and col2im. The
last row is the whole layer, for comparison with the sum of its parts, which
leaves out the Python loop, allocation and the bias terms.

Each part reuses one tile's buffers, so its data sits in cache as it does
inside the layer. The inputs of every tile are distinct, as in the layer.
"""

import numpy as np

from benchmarks.harness import Case
from nnscratch import init
from nnscratch.kernels.im2col import col2im_tile, im2col_tile
from nnscratch.layers import Conv2d
from nnscratch.layers.conv import DEFAULT_MAX_COLS_BYTES, conv_tiles, tile_budget

GROUP = "profile"


def _parts(N, C, size, F, kernel, pad):
    init.manual_seed(0)
    conv = Conv2d(C, F, kernel, padding=pad)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, size, size), dtype=np.float32)
    dout = rng.standard_normal((N, F, size, size), dtype=np.float32)
    K = C * kernel * kernel
    W_matrix = conv.params["weight"].reshape(F, K)
    tiles = conv_tiles(N, size, size, K * 4, tile_budget(DEFAULT_MAX_COLS_BYTES))
    T = max((n1 - n0) * (r1 - r0) * size for n0, n1, r0, r1 in tiles)
    cols_buffer = np.empty(K * T, dtype=np.float32)
    out_buffer = np.empty(F * T, dtype=np.float32)
    dW = np.empty((K, F), dtype=np.float32)
    dx = np.zeros_like(x)
    dout_matrix = dout.reshape(N, F, size * size)
    geometry = (kernel, kernel, 1, 1, pad, pad, size, size)

    def views(n0, n1, r0, r1):
        """Return the tile's columns, output and dout as (K, T), (F, T), (F, T)."""
        width = (n1 - n0) * (r1 - r0) * size
        if n1 - n0 == 1:
            tile_dout = dout_matrix[n0, :, r0 * size : r0 * size + width]
        else:
            tile_dout = dout[n0:n1].transpose(1, 0, 2, 3).reshape(F, width)
        return (cols_buffer[: K * width].reshape(K, width),
                out_buffer[: F * width].reshape(F, width), tile_dout)

    def im2col_all():
        for n0, n1, r0, r1 in tiles:
            im2col_tile(x, n0, n1, r0, r1, *geometry, views(n0, n1, r0, r1)[0])

    def gemm(kind):
        def run():
            for n0, n1, r0, r1 in tiles:
                tile_cols, tile_out, tile_dout = views(n0, n1, r0, r1)
                if kind == "forward":
                    np.matmul(W_matrix, tile_cols, out=tile_out)
                elif kind == "weight gradient":
                    np.matmul(tile_cols, tile_dout.T, out=dW)
                else:
                    np.matmul(W_matrix.T, tile_dout, out=tile_cols)
        return run

    def col2im_all():
        for n0, n1, r0, r1 in tiles:
            col2im_tile(views(n0, n1, r0, r1)[0], n0, n1, r0, r1, *geometry, dx)

    def layer():
        conv.forward(x)
        conv.backward(dout)

    flops = 2 * N * F * size * size * K
    label = (f"conv {C}->{F} {kernel}x{kernel}, {N}x{C}x{size}x{size}, "
             f"{len(tiles)} tiles")
    yield f"{label}: im2col (once)", im2col_all, None
    yield f"{label}: GEMM forward", gemm("forward"), flops
    yield f"{label}: GEMM weight gradient", gemm("weight gradient"), flops
    yield f"{label}: GEMM column gradient", gemm("column gradient"), flops
    yield f"{label}: col2im", col2im_all, None
    yield f"{label}: whole fwd+bwd", layer, 3 * flops


def cases(quick=False):
    """Yield one nnscratch-only case per part of the largest convolution."""
    shape = (2, 3, 32, 16, 5, 2) if quick else (32, 3, 224, 16, 5, 2)
    for name, run, flops in _parts(*shape):
        yield Case(GROUP, name, run, None, "", flops=flops)
