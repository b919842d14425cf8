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
image. The weight gradient is the same sum read the other way::

    dW[f, c, i, j] += sum over t of d[f, t] * x[c, t + i * width + j]   (2)

where ``d`` is the output gradient in the same flat layout, with zeros in
the wrapped columns so that they add nothing.

The NumPy twins write (1) and (2) as one small GEMM per kernel offset (i, j)
over shifted slices of the flat rows. The Numba kernels keep a tile of
results in registers. In (1) they are four filters at once, so each pixel
loaded serves four multiply-adds. In (2) they are four filters by two kernel
taps. On one
AMD EPYC Zen 4 core, the forward pass of the course's first layer (3 -> 16
filters, 5x5, one 228 x 228 padded image) took 1.14 ms (105 GFLOP/s, about
the float32 GEMM ceiling) and its weight gradient 1.46 ms.
"""

import functools

import numba
import numpy as np

from nnscratch.kernels.dispatch import use_numba

# Contraction lets LLVM fuse each multiply and add into one FMA; reassociation
# lets it split the sums of (2) into vector lanes. NaN and infinities keep
# their IEEE meaning.
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
    KW terms. With KW read from the array's shape instead, the same code took
    14.2 ms instead of 1.14 ms on the course's first layer (one 228 x 228
    image, one core): LLVM then vectorised the short loop over j.
    """

    @numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
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
                    W0, W1, W2, W3 = W[f, c, i], W[f + 1, c, i], W[f + 2, c, i], W[f + 3, c, i]
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
        return out

    return correlate_rows


def correlate_rows_numba(x, W, width, length, initial, out):
    """Numba twin of ``correlate_rows_numpy``; all arrays C-contiguous."""
    return _correlate_rows_kernel(W.shape[3])(x, W, width, length, initial, out)


def weight_correlation_numpy(x, d, width, length, dW):
    """Add the flat-row weight gradient (2) into ``dW``.

    Parameters
    ----------
    x : ndarray of shape (C, L)
        As in ``correlate_rows_numpy``.
    d : ndarray of shape (F, M), M >= length
        Output gradient in the flat layout, zero in the wrapped columns.
    width, length : int
    dW : ndarray of shape (F, C, KH, KW)
        Accumulated in place.

    Returns
    -------
    dW
    """
    _, _, KH, KW = dW.shape
    d = d[:, :length]
    for i in range(KH):
        for j in range(KW):
            start = i * width + j
            dW[:, :, i, j] += d @ x[:, start : start + length].T  # (F, C)
    return dW


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def weight_correlation_numba(x, d, width, length, dW):
    """Numba twin of ``weight_correlation_numpy``; all arrays C-contiguous.

    The C * KH * KW kernel taps (c, i, j) are taken two at a time, in the
    order of ``dW.reshape(F, -1)``, and each pass over t sums eight products
    at once: four filters by the two taps. So each loaded value serves two or
    four of them.
    """
    F, C, KH, KW = dW.shape
    taps = C * KH * KW
    dW_matrix = dW.reshape(F, taps)
    pixels = x.reshape(x.size)
    blocked = F - F % 4
    zero = dW.dtype.type(0)  # sums in the arrays' own precision
    for tap in range(0, taps, 2):
        # An odd last tap pairs with itself; its second sums are dropped.
        other = min(tap + 1, taps - 1)
        row_a = pixels[_tap_start(tap, x.shape[1], width, KH, KW) :]
        row_b = pixels[_tap_start(other, x.shape[1], width, KH, KW) :]
        for f in range(0, blocked, 4):
            d0, d1, d2, d3 = d[f], d[f + 1], d[f + 2], d[f + 3]
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = zero
            for t in range(length):
                pixel_a, pixel_b = row_a[t], row_b[t]
                e0, e1, e2, e3 = d0[t], d1[t], d2[t], d3[t]
                a0 += e0 * pixel_a
                a1 += e1 * pixel_a
                a2 += e2 * pixel_a
                a3 += e3 * pixel_a
                b0 += e0 * pixel_b
                b1 += e1 * pixel_b
                b2 += e2 * pixel_b
                b3 += e3 * pixel_b
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
            d_f = d[f]
            a = b = zero
            for t in range(length):
                a += d_f[t] * row_a[t]
                b += d_f[t] * row_b[t]
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


def weight_correlation(x, d, width, length, dW):
    """Add the flat-row weight gradient (2) into ``dW`` (see the module docstring)."""
    if use_numba() and length > 0:
        return weight_correlation_numba(x, d, width, length, dW)
    return weight_correlation_numpy(x, d, width, length, dW)
