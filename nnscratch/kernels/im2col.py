"""im2col and col2im: unfold image patches into GEMM columns, and fold back.

Layout of the column matrix, shared by both twins::

    cols[(c * KH + i) * KW + j, (n * OH + oh) * OW + ow]
        = x[n, c, oh * SH - PH + i, ow * SW - PW + j]

with zero where the index falls in the padding. Rows follow the order of
``weight.reshape(F, C * KH * KW)``, so a convolution is one GEMM
``weight_matrix @ cols``. ``PH`` and ``PW`` are the top and left padding; the
bottom and right padding is implied by ``OH`` and ``OW``, which lets callers
pad asymmetrically (``padding="same"`` with an even kernel).

``col2im`` is the adjoint of ``im2col``: it adds every column entry back to the
pixel it was copied from, which is exactly the gradient of ``im2col``.

The tile kernels do the same for part of the output: samples ``n0:n1`` and
output rows ``r0:r1``, whose columns are numbered
``((n - n0) * (r1 - r0) + oh - r0) * OW + ow``. A convolution that unfolds one
tile at a time keeps its column matrix small enough to stay in the CPU cache
while the GEMM reads it. The whole-image kernels are the tile kernels applied
to every sample and row.
"""

import numba
import numpy as np

from nnscratch.kernels.dispatch import use_numba


def _valid_outputs(size, offset, stride, pad, out_start, out_stop):
    """Return (lo, hi): the outputs o in [out_start, out_stop) whose input
    index o * stride - pad + offset lies in [0, size); hi >= lo."""
    lo = max(out_start, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
    hi = min(out_stop, (size - 1 + pad - offset) // stride + 1)
    return lo, max(lo, hi)


_valid_outputs_jit = numba.njit(cache=True)(_valid_outputs)


def _tile_runs(shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OW):
    """Plan the runs of one tile's column matrix, in the order col2im adds them.

    A run is the OW entries of one column-matrix row (c, i, j) for one sample
    n and output row oh. Row ``r`` of the result is ``(entry, lo, hi, pixel)``:
    the run starts at flat index ``entry`` of the tile's columns, its entries
    ``lo:hi`` are copies of the pixels at flat indices ``pixel``,
    ``pixel + SW``, ... of the image, and its other entries are padding (all
    of them when lo == hi).

    Returns
    -------
    ndarray of shape (C * KH * KW * (n1 - n0) * (r1 - r0), 4), int64
    """
    N, C, H, W = shape
    rows = r1 - r0
    T = (n1 - n0) * rows * OW
    runs = np.zeros((C * KH * KW * (n1 - n0) * rows, 4), dtype=np.int64)
    run = 0
    for c in range(C):
        for i in range(KH):
            oh_lo, oh_hi = _valid_outputs_jit(H, i, SH, PH, r0, r1)
            for j in range(KW):
                ow_lo, ow_hi = _valid_outputs_jit(W, j, SW, PW, 0, OW)
                row = (c * KH + i) * KW + j
                for n in range(n0, n1):
                    for oh in range(r0, r1):
                        runs[run, 0] = row * T + ((n - n0) * rows + oh - r0) * OW
                        if oh_lo <= oh < oh_hi:
                            h = oh * SH - PH + i
                            runs[run, 1] = ow_lo
                            runs[run, 2] = ow_hi
                            w = ow_lo * SW - PW + j
                            runs[run, 3] = ((n * C + c) * H + h) * W + w
                        run += 1
    return runs


# The copy loops index flat views with unsigned integers: with signed indices
# Numba checks each index for Python's negative wrap-around, which stops LLVM
# from vectorising them (7x slower, measured on an AMD EPYC Zen 4 core).

def _im2col_tile_loops(x, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, cols):
    runs = _tile_runs_jit(x.shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OW)
    pixels = x.reshape(x.size)
    entries = cols.reshape(cols.size)
    step = np.uint64(SW)
    for run in range(runs.shape[0]):
        entry = np.uint64(runs[run, 0])
        lo = np.uint64(runs[run, 1])
        hi = np.uint64(runs[run, 2])
        pixel = np.uint64(runs[run, 3])
        for k in range(lo):
            entries[entry + k] = 0
        for k in range(hi - lo):
            entries[entry + lo + k] = pixels[pixel + k * step]
        for k in range(hi, np.uint64(OW)):
            entries[entry + k] = 0
    return cols


def _col2im_tile_loops(dcols, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, dx):
    runs = _tile_runs_jit(dx.shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OW)
    entries = dcols.reshape(dcols.size)
    pixels = dx.reshape(dx.size)
    step = np.uint64(SW)
    # Each pixel receives its terms in kernel-offset order (i, then j), as in
    # the NumPy twin, so the two agree bit for bit.
    for run in range(runs.shape[0]):
        entry = np.uint64(runs[run, 0])
        lo = np.uint64(runs[run, 1])
        hi = np.uint64(runs[run, 2])
        pixel = np.uint64(runs[run, 3])
        for k in range(hi - lo):
            pixels[pixel + k * step] += entries[entry + lo + k]
    return dx


def _im2col_loops(x, KH, KW, SH, SW, PH, PW, OH, OW):
    N, C, H, W = x.shape
    cols = np.empty((C * KH * KW, N * OH * OW), dtype=x.dtype)
    return im2col_tile_numba(x, 0, N, 0, OH, KH, KW, SH, SW, PH, PW, OH, OW, cols)


def _col2im_loops(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW):
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    return col2im_tile_numba(cols, 0, N, 0, OH, KH, KW, SH, SW, PH, PW, OH, OW, dx)


_tile_runs_jit = numba.njit(cache=True, nogil=True)(_tile_runs)
# Serial on purpose: a convolution calls these once per cache-sized tile, and
# its GEMM already uses every BLAS thread. Parallel regions this short cost
# more in thread wake-ups than they save.
im2col_tile_numba = numba.njit(cache=True, nogil=True)(_im2col_tile_loops)
col2im_tile_numba = numba.njit(cache=True, nogil=True)(_col2im_tile_loops)
im2col_numba = numba.njit(cache=True, nogil=True)(_im2col_loops)
col2im_numba = numba.njit(cache=True, nogil=True)(_col2im_loops)


def _tile_windows(shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW):
    """Yield (i, j, image_index, block_index) for each kernel offset of a tile.

    ``image[image_index]`` of shape (n, C, oh, ow) contains the pixels that
    offset (i, j) copies into ``cols6[:, i, j][block_index]`` of shape
    (C, n, oh, ow), where ``cols6`` is the tile's columns viewed as
    (C, KH, KW, n1 - n0, r1 - r0, OW). Offsets that see only padding are
    skipped.
    """
    N, C, H, W = shape
    for i in range(KH):
        oh_lo, oh_hi = _valid_outputs(H, i, SH, PH, r0, r1)
        for j in range(KW):
            ow_lo, ow_hi = _valid_outputs(W, j, SW, PW, 0, OW)
            if oh_hi == oh_lo or ow_hi == ow_lo:
                continue
            h0 = oh_lo * SH - PH + i
            w0 = ow_lo * SW - PW + j
            image_index = (slice(n0, n1), slice(None),
                           slice(h0, h0 + SH * (oh_hi - oh_lo), SH),
                           slice(w0, w0 + SW * (ow_hi - ow_lo), SW))
            block_index = (slice(None), slice(None),
                           slice(oh_lo - r0, oh_hi - r0), slice(ow_lo, ow_hi))
            yield i, j, image_index, block_index


def im2col_tile_numpy(x, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, cols):
    """NumPy twin of ``im2col_tile_numba``: one strided slice per kernel offset.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    n0, n1, r0, r1 : int
        The tile: samples ``n0:n1`` and output rows ``r0:r1``.
    KH, KW, SH, SW, PH, PW, OH, OW : int
        Kernel size, stride, top/left padding and output size.
    cols : ndarray of shape (C * KH * KW, (n1 - n0) * (r1 - r0) * OW)
        C-contiguous, dtype of ``x``; overwritten.

    Returns
    -------
    cols : the filled ``cols``
    """
    C = x.shape[1]
    cols6 = cols.reshape(C, KH, KW, n1 - n0, r1 - r0, OW)
    cols6[...] = 0
    for i, j, image_index, block_index in _tile_windows(
            x.shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW):
        cols6[:, i, j][block_index] = x[image_index].transpose(1, 0, 2, 3)
    return cols


def col2im_tile_numpy(dcols, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, dx):
    """NumPy twin of ``col2im_tile_numba``: one strided add per kernel offset.

    Parameters
    ----------
    dcols : ndarray of shape (C * KH * KW, (n1 - n0) * (r1 - r0) * OW)
    n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW : int
        As in ``im2col_tile_numpy``.
    dx : ndarray of shape (N, C, H, W)
        C-contiguous, dtype of ``dcols``; the tile's terms are added to it.

    Returns
    -------
    dx : the updated ``dx``
    """
    C = dx.shape[1]
    terms6 = dcols.reshape(C, KH, KW, n1 - n0, r1 - r0, OW)
    for i, j, image_index, block_index in _tile_windows(
            dx.shape, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW):
        dx[image_index] += terms6[:, i, j][block_index].transpose(1, 0, 2, 3)
    return dx


def im2col_numpy(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """NumPy twin of ``im2col_numba``: ``im2col_tile_numpy`` over the whole input.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW, OH, OW : int
        Kernel size, stride, top/left padding and output size.

    Returns
    -------
    cols : ndarray of shape (C * KH * KW, N * OH * OW), dtype of ``x``
    """
    N, C, H, W = x.shape
    cols = np.empty((C * KH * KW, N * OH * OW), dtype=x.dtype)
    return im2col_tile_numpy(x, 0, N, 0, OH, KH, KW, SH, SW, PH, PW, OH, OW, cols)


def col2im_numpy(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW):
    """NumPy twin of ``col2im_numba``: ``col2im_tile_numpy`` over the whole image.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``cols``
    """
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    cols = cols.reshape(C * KH * KW, N * OH * OW)
    return col2im_tile_numpy(cols, 0, N, 0, OH, KH, KW, SH, SW, PH, PW, OH, OW, dx)


def im2col(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """Unfold patches of ``x`` into columns (see the module docstring)."""
    if use_numba() and x.size > 0:
        return im2col_numba(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, OH, OW)
    return im2col_numpy(x, KH, KW, SH, SW, PH, PW, OH, OW)


def col2im(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW):
    """Fold columns back into an image, adding overlaps (adjoint of im2col)."""
    if use_numba() and cols.size > 0:
        cols = np.ascontiguousarray(cols)
        return col2im_numba(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)
    return col2im_numpy(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW)


def im2col_tile(x, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, cols):
    """Unfold one tile of ``x`` into ``cols``; ``x`` and ``cols`` C-contiguous."""
    if use_numba() and cols.size > 0:
        return im2col_tile_numba(x, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW,
                                 cols)
    return im2col_tile_numpy(x, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, cols)


def col2im_tile(dcols, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW, dx):
    """Add one tile of columns into ``dx``; ``dcols`` and ``dx`` C-contiguous."""
    if use_numba() and dcols.size > 0:
        return col2im_tile_numba(dcols, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH,
                                 OW, dx)
    return col2im_tile_numpy(dcols, n0, n1, r0, r1, KH, KW, SH, SW, PH, PW, OH, OW,
                             dx)
