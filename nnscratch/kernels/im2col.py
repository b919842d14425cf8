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
"""

import numba
import numpy as np

from nnscratch.kernels.dispatch import use_numba


def _im2col_loops(x, KH, KW, SH, SW, PH, PW, OH, OW):
    N, C, H, W = x.shape
    cols = np.empty((C * KH * KW, N * OH * OW), dtype=x.dtype)
    # One row per (c, i, j): rows are independent, so they run in parallel.
    for row in numba.prange(C * KH * KW):
        c = row // (KH * KW)
        i = (row // KW) % KH
        j = row % KW
        for n in range(N):
            base = n * OH * OW
            for oh in range(OH):
                h = oh * SH - PH + i
                start = base + oh * OW
                if h < 0 or h >= H:
                    for ow in range(OW):
                        cols[row, start + ow] = 0
                    continue
                for ow in range(OW):
                    w = ow * SW - PW + j
                    if 0 <= w < W:
                        cols[row, start + ow] = x[n, c, h, w]
                    else:
                        cols[row, start + ow] = 0
    return cols


def _col2im_loops(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW):
    dx = np.zeros((N, C, H, W), dtype=cols.dtype)
    # One (n, c) plane per task: each plane is written by its own task only.
    for plane in numba.prange(N * C):
        n = plane // C
        c = plane % C
        base = n * OH * OW
        for i in range(KH):
            for j in range(KW):
                row = (c * KH + i) * KW + j
                for oh in range(OH):
                    h = oh * SH - PH + i
                    if h < 0 or h >= H:
                        continue
                    start = base + oh * OW
                    for ow in range(OW):
                        w = ow * SW - PW + j
                        if 0 <= w < W:
                            dx[n, c, h, w] += cols[row, start + ow]
    return dx


im2col_numba = numba.njit(cache=True, parallel=True)(_im2col_loops)
col2im_numba = numba.njit(cache=True, parallel=True)(_col2im_loops)


def _padded_extent(size, kernel, stride, pad_before, out_size):
    """Return the padding after the input needed to reach ``out_size``."""
    return max(0, (out_size - 1) * stride + kernel - size - pad_before)


def im2col_numpy(x, KH, KW, SH, SW, PH, PW, OH, OW):
    """NumPy twin of ``im2col_numba``: one strided slice per kernel offset.

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
    pad_bottom = _padded_extent(H, KH, SH, PH, OH)
    pad_right = _padded_extent(W, KW, SW, PW, OW)
    xp = np.pad(x, ((0, 0), (0, 0), (PH, pad_bottom), (PW, pad_right)))

    cols = np.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            window = xp[:, :, i : i + SH * OH : SH, j : j + SW * OW : SW]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return cols.reshape(C * KH * KW, N * OH * OW)


def col2im_numpy(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, OH, OW):
    """NumPy twin of ``col2im_numba``: one strided add per kernel offset.

    Returns
    -------
    dx : ndarray of shape (N, C, H, W), dtype of ``cols``
    """
    pad_bottom = _padded_extent(H, KH, SH, PH, OH)
    pad_right = _padded_extent(W, KW, SW, PW, OW)
    dxp = np.zeros((N, C, H + PH + pad_bottom, W + PW + pad_right), cols.dtype)

    cols = cols.reshape(C, KH, KW, N, OH, OW)
    for i in range(KH):
        for j in range(KW):
            window = dxp[:, :, i : i + SH * OH : SH, j : j + SW * OW : SW]
            window += cols[:, i, j].transpose(1, 0, 2, 3)  # (N, C, OH, OW)
    return np.ascontiguousarray(dxp[:, :, PH : PH + H, PW : PW + W])


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
