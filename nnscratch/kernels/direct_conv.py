"""Direct convolution at stride 1: the forward pass and the weight gradient
computed from the image itself, without a column matrix.

An input with few channels makes im2col + GEMM wasteful. The GEMM's inner
dimension C * KH * KW is small (75 for RGB and 5x5), so the BLAS spends much
of its time packing. And the column matrix copies every pixel KH * KW times.
These kernels read the padded image in place.

Flat rows. Let ``x`` be one padded image of shape (C, Hp, Wp), flattened to
(C, Hp * Wp), and let ``width = Wp``. Output pixel (oh, ow) sits at flat
position ``t = oh * width + ow``, and the window of kernel offset (i, j) starts
at ``t + i * width + j``. So a stride-1 correlation is, for every t::

    out[f, t] = initial[f] + sum over c, i, j of
                W[f, c, i, j] * x[c, t + i * width + j]          (1)

one long loop over t per (f, c, i), with no test for row ends. Positions t
whose column ``t % width`` is at least OW wrap into the next row: they are
computed and thrown away (a (KW - 1) / Wp share of the work). Running t over
``length = (OH - 1) * width + OW`` positions keeps every read inside the
image. Several images stacked one under another are one taller image, and
the outputs whose rows straddle two of them are thrown away too.

The weight gradient sums over real output pixels only, image s of the stack
having ``rows`` rows::

    dW[f, c, i, j] += sum over s, oh < OH, ow < OW of              (2)
        dout[s, f, oh, ow] * x[c, (s * rows + oh + i) * width + ow + j]

Skipping the thrown-away positions matters here. A position with a zero
gradient still reads a real pixel, and 0 * inf is NaN. An infinite pixel
near the image's edges (or between stacked images) is read by some taps
only from thrown-away positions. Summing those would make their gradient
NaN, where im2col + GEMM gives NaN only to the taps that see the pixel
from a real output.

The NumPy twins write (1) as one small GEMM per kernel offset (i, j) over
shifted slices of the flat rows, and (2) as one contraction per offset over
the shifted windows. The Numba kernels keep a tile of results in registers.
In (1) they are four filters at once, so each pixel loaded serves four
multiply-adds. In (2) they are four filters by two kernel taps. The course's
first layer (3 -> 16 filters, 5x5, one 228 x 228 padded image) took 1.15 ms
for (1) and 1.87 ms for (2) on one AMD EPYC Zen 4 core (best of 20 calls
timed with ``time.perf_counter``, ``NUMBA_NUM_THREADS=1``): 105 and 64
GFLOP/s. numpy's float32 GEMM on large square matrices ran at 103 GFLOP/s
on the same core (the benchmark suite's ceiling). The forward kernel can
match it: it packs nothing and reuses each loaded pixel four times.
"""

import functools

import numba
import numpy as np

from nnscratch.kernels.dispatch import use_numba

# Contraction lets LLVM fuse each multiply and add into one FMA. Reassociation
# lets it split the sums of (2) into vector lanes. NaN and infinities are not
# assumed away.
_FLAGS = {"contract", "reassoc"}


def correlate_rows_numpy(x, W, width, length, initial, out):
    """Write the flat-row correlation (1) of ``x`` with ``W`` into ``out``.

    Parameters
    ----------
    x : ndarray of shape (C, L)
        Padded images flattened to rows of ``width`` pixels, with
        ``L >= length + (KH - 1) * width + KW - 1``.
    W : ndarray of shape (F, C, KH, KW)
    width : int
    length : int
        Number of output positions t.
    initial : ndarray of shape (F,)
        Value each output starts from: the bias, or zeros.
    out : ndarray of shape (F, M), M >= length
        Its first ``length`` columns are written.

    Returns
    -------
    out
    """
    F, C, KH, KW = W.shape
    result = np.empty((F, length), dtype=out.dtype)
    result[:] = initial[:, None]
    for i in range(KH):
        for j in range(KW):
            start = i * width + j
            result += W[:, :, i, j] @ x[:, start : start + length]  # (F, length)
    out[:, :length] = result
    return out


@functools.cache
def _correlate_rows_kernel(KW):
    """Compile the Numba correlation for kernels ``KW`` columns wide.

    KW is a constant of the compiled code, so LLVM unrolls the loop over the
    kernel's columns and keeps each output in a register while it adds all
    KW terms. With KW read from the array's shape instead, LLVM vectorised
    the short loop over j. The same code then took 14.2 ms instead of
    1.14 ms on the course's first layer (one 228 x 228 image, one core, best
    of ten calls of each in one process).

    Each width gets its own name, and so its own file of Numba's on-disk
    cache. Under one shared name, all widths would share one cache index,
    which Numba updates without a lock between processes
    (``IndexDataCacheFile.save`` in ``numba/core/caching.py``). Two processes
    compiling different widths at once can then file one width's machine
    code under the other's key. A cache with every width under one index
    made later processes stop with "NRT_adapt_ndarray_to_python: descr is
    NULL".

    NOTE: the dtypes of one width still share its index, as the signatures
    of every other cached kernel share theirs. Two processes compiling
    float32 and float64 of one width at the same moment can still swap
    them, and later processes then stop with "can't unbox array" (seen only
    with the writes forced into that order). Deleting ``__pycache__``
    repairs it (README, "Commands").
    """

    def correlate_rows(x, W, width, length, initial, out):
        F, C, KH, _ = W.shape
        blocked = F - F % 4
        for f in range(0, blocked, 4):
            out0, out1, out2, out3 = out[f], out[f + 1], out[f + 2], out[f + 3]
            out0[:length] = initial[f]
            out1[:length] = initial[f + 1]
            out2[:length] = initial[f + 2]
            out3[:length] = initial[f + 3]
            for c in range(C):
                for i in range(KH):
                    row = x[c][i * width :]
                    W0, W1 = W[f, c, i], W[f + 1, c, i]
                    W2, W3 = W[f + 2, c, i], W[f + 3, c, i]
                    for t in range(length):
                        sum0, sum1, sum2, sum3 = out0[t], out1[t], out2[t], out3[t]
                        for j in range(KW):
                            pixel = row[t + j]
                            sum0 += W0[j] * pixel
                            sum1 += W1[j] * pixel
                            sum2 += W2[j] * pixel
                            sum3 += W3[j] * pixel
                        out0[t], out1[t], out2[t], out3[t] = sum0, sum1, sum2, sum3
        for f in range(blocked, F):
            out_f = out[f]
            out_f[:length] = initial[f]
            for c in range(C):
                for i in range(KH):
                    row = x[c][i * width :]
                    W_f = W[f, c, i]
                    for t in range(length):
                        total = out_f[t]
                        for j in range(KW):
                            total += W_f[j] * row[t + j]
                        out_f[t] = total

    correlate_rows.__qualname__ = f"correlate_rows_width_{KW}"
    return numba.njit(cache=True, nogil=True, fastmath=_FLAGS)(correlate_rows)


def correlate_rows_numba(x, W, width, length, initial, out):
    """Numba twin of ``correlate_rows_numpy``. All arrays are C-contiguous."""
    _correlate_rows_kernel(W.shape[3])(x, W, width, length, initial, out)
    return out


def weight_correlation_numpy(x, dout, width, rows, dW):
    """Add the weight gradient (2) of a stack of images into ``dW``.

    Parameters
    ----------
    x : ndarray of shape (C, L)
        ``m`` padded images of ``rows`` x ``width`` pixels stacked and
        flattened, with ``L >= m * rows * width``.
    dout : ndarray of shape (m, F, OH, OW)
        Output gradient of the m images, with OH <= rows - KH + 1 and
        OW <= width - KW + 1.
    width, rows : int
    dW : ndarray of shape (F, C, KH, KW)
        Accumulated in place.

    Returns
    -------
    dW
    """
    m, _, OH, OW = dout.shape
    _, C, KH, KW = dW.shape
    images = x[:, : m * rows * width].reshape(C, m, rows, width)
    for i in range(KH):
        for j in range(KW):
            window = images[:, :, i : i + OH, j : j + OW]  # (C, m, OH, OW)
            dW[:, :, i, j] += np.tensordot(dout, window, axes=([0, 2, 3], [1, 2, 3]))
    return dW


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def weight_correlation_numba(x, dout, width, rows, dW):
    """Numba twin of ``weight_correlation_numpy``. All arrays are C-contiguous.

    The C * KH * KW kernel taps (c, i, j) are taken two at a time, in the
    order of ``dW.reshape(F, -1)``, and each pass over the output pixels sums
    eight products at once: four filters by the two taps. So each loaded
    value serves two or four of them.
    """
    m, F, OH, OW = dout.shape
    _, C, KH, KW = dW.shape
    taps = C * KH * KW
    dW_matrix = dW.reshape(F, taps)
    pixels = x.reshape(x.size)
    blocked = F - F % 4
    # The sums keep the arrays' own precision.
    zero = dW.dtype.type(0)
    for tap in range(0, taps, 2):
        # An odd last tap pairs with itself, so its second sums are dropped.
        other = min(tap + 1, taps - 1)
        start_a = _tap_start(tap, x.shape[1], width, KH, KW)
        start_b = _tap_start(other, x.shape[1], width, KH, KW)
        for f in range(0, blocked, 4):
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = zero
            for s in range(m):
                for oh in range(OH):
                    row = (s * rows + oh) * width
                    pixels_a = pixels[start_a + row :]
                    pixels_b = pixels[start_b + row :]
                    d0, d1 = dout[s, f, oh], dout[s, f + 1, oh]
                    d2, d3 = dout[s, f + 2, oh], dout[s, f + 3, oh]
                    for ow in range(OW):
                        pixel_a, pixel_b = pixels_a[ow], pixels_b[ow]
                        a0 += d0[ow] * pixel_a
                        a1 += d1[ow] * pixel_a
                        a2 += d2[ow] * pixel_a
                        a3 += d3[ow] * pixel_a
                        b0 += d0[ow] * pixel_b
                        b1 += d1[ow] * pixel_b
                        b2 += d2[ow] * pixel_b
                        b3 += d3[ow] * pixel_b
            dW_matrix[f, tap] += a0
            dW_matrix[f + 1, tap] += a1
            dW_matrix[f + 2, tap] += a2
            dW_matrix[f + 3, tap] += a3
            if other != tap:
                dW_matrix[f, other] += b0
                dW_matrix[f + 1, other] += b1
                dW_matrix[f + 2, other] += b2
                dW_matrix[f + 3, other] += b3
        for f in range(blocked, F):
            a = b = zero
            for s in range(m):
                for oh in range(OH):
                    row = (s * rows + oh) * width
                    pixels_a = pixels[start_a + row :]
                    pixels_b = pixels[start_b + row :]
                    d_f = dout[s, f, oh]
                    for ow in range(OW):
                        a += d_f[ow] * pixels_a[ow]
                        b += d_f[ow] * pixels_b[ow]
            dW_matrix[f, tap] += a
            if other != tap:
                dW_matrix[f, other] += b
    return dW


@numba.njit(cache=True, nogil=True)
def _tap_start(tap, row_length, width, KH, KW):
    """Return where tap (c, i, j), numbered c * KH * KW + i * KW + j, starts
    reading in the flattened (C, L) image: c * L + i * width + j."""
    c, offset = divmod(tap, KH * KW)
    i, j = divmod(offset, KW)
    return c * row_length + i * width + j


def correlate_rows(x, W, width, length, initial, out):
    """Write the flat-row correlation (1) into ``out`` (see the module docstring)."""
    if use_numba() and length > 0:
        return correlate_rows_numba(x, W, width, length, initial, out)
    return correlate_rows_numpy(x, W, width, length, initial, out)


def weight_correlation(x, dout, width, rows, dW):
    """Add the weight gradient (2) of a stack into ``dW`` (see the module docstring)."""
    if use_numba() and dout.size > 0:
        return weight_correlation_numba(x, dout, width, rows, dW)
    return weight_correlation_numpy(x, dout, width, rows, dW)
