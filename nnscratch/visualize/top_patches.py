"""The dataset patches that activate a unit most, cut to its receptive field.

A unit here is one channel of a layer's output. Its activation on an image is
its largest value over all positions of that image. The top patches come from
the images with the largest activations: each is the receptive field of the
position where that image's maximum is. Taking one patch per image keeps the nine patches
from being near copies of one spot. This is how Zeiler and Fergus ("Visualizing
and Understanding Convolutional Networks", ECCV 2014) chose the image patches
they showed for each unit.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nnscratch.layers import Conv2d
from nnscratch.visualize.receptive_field import ELEMENTWISE

# Parts of a receptive field outside the image (zero padding in the network)
# are drawn in this colour, which no photograph or digit in the datasets uses.
PADDING_COLOUR = (255, 0, 255)
GAP = 3  # pixels between patches
LABEL_WIDTH = 84  # pixels left of each row for its label


def unit_layers(model, count=3):
    """Return the leaf indices whose outputs stand for the first convolutions.

    After each ``Conv2d`` the element-wise layers that follow it (BatchNorm,
    the activation) are included, so the index is the last of them: the
    activation the course calls the unit's output.

    Parameters
    ----------
    model : Sequential
    count : int
        How many convolutions to take, from the input on.

    Returns
    -------
    list of int
        Indices into ``list(model.named_layers())``; fewer than ``count`` when
        the model has fewer convolutions before its first non-element-wise
        layer after them.
    """
    leaves = [layer for _, layer in model.named_layers()]
    indices = []
    for index, layer in enumerate(leaves):
        if not isinstance(layer, Conv2d):
            continue
        end = index
        while end + 1 < len(leaves) and isinstance(leaves[end + 1], ELEMENTWISE):
            end += 1
        indices.append(end)
        if len(indices) == count:
            break
    return indices


def max_activations(model, batches, taps):
    """Find each image's largest value and its position, per tapped channel.

    Parameters
    ----------
    model : Sequential
        In eval mode.
    batches : iterable of ndarray of shape (n, C, H, W)
        The images, in order; sizes may change from batch to batch.
    taps : sequence of int
        Leaf indices whose outputs to read (see ``unit_layers``).

    Returns
    -------
    dict of int to (values, rows, columns)
        For each tap, three arrays of shape (N, F): the maximum of channel f
        over the positions of image n, and its row and column. A tie between
        positions goes to the first in row-major order.
    """
    leaves = [layer for _, layer in model.named_layers()]
    last = max(taps)
    found = {tap: ([], [], []) for tap in taps}
    for x in batches:
        for index in range(last + 1):
            x = leaves[index].forward(x)
            if index in found:
                n, F, H, W = x.shape
                flat = x.reshape(n, F, H * W)  # (n, F, positions)
                best = flat.argmax(axis=2)  # (n, F)
                values, rows, columns = found[index]
                values.append(np.take_along_axis(flat, best[..., None], axis=2)[..., 0])
                rows.append(best // W)
                columns.append(best % W)
    return {tap: tuple(np.concatenate(part) for part in parts)
            for tap, parts in found.items()}


def top_images(values, k=9):
    """Return, per channel, the images with the ``k`` largest activations.

    Parameters
    ----------
    values : ndarray of shape (N, F)
    k : int

    Returns
    -------
    ndarray of shape (F, min(k, N)), int
        Image indices, largest activation first. Equal activations keep
        image order (the lower index first).
    """
    order = np.argsort(-values, axis=0, kind="stable")[:k]  # (k, F)
    return order.T


def crop_patch(image, bounds):
    """Cut a window out of an image, filling what lies outside it.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float in [0, 1]
    bounds : (y1, y2, x1, x2)
        Rows y1 <= y < y2 and columns x1 <= x < x2; they may reach past the
        image, as receptive fields do next to its border.

    Returns
    -------
    ndarray of shape (y2 - y1, x2 - x1, 3), float32
        The image inside, ``PADDING_COLOUR`` outside.
    """
    y1, y2, x1, x2 = bounds
    H, W = image.shape[:2]
    patch = np.empty((y2 - y1, x2 - x1, 3), dtype=np.float32)
    patch[:] = np.asarray(PADDING_COLOUR, dtype=np.float32) / 255
    top, bottom = max(y1, 0), min(y2, H)
    left, right = max(x1, 0), min(x2, W)
    if top < bottom and left < right:
        patch[top - y1:bottom - y1, left - x1:right - x1] = image[top:bottom, left:right]
    return patch


def patch_grid(rows, labels, display=48):
    """Lay rows of equally sized patches out as one image, each row labelled.

    Parameters
    ----------
    rows : list of list of ndarray of shape (h, w, 3), float in [0, 1]
    labels : list of str
        One per row.
    display : int
        Patches are enlarged by an integer factor (nearest neighbour) until
        their longer side is at least ``display`` pixels.

    Returns
    -------
    ndarray, uint8 of shape (height, width, 3)
    """
    h, w = rows[0][0].shape[:2]
    factor = max(1, -(-display // max(h, w)))
    tile_h, tile_w = h * factor, w * factor
    columns = max(len(row) for row in rows)
    height = len(rows) * (tile_h + GAP) + GAP
    width = LABEL_WIDTH + columns * (tile_w + GAP) + GAP
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for r, (row, label) in enumerate(zip(rows, labels)):
        y = GAP + r * (tile_h + GAP)
        draw.text((GAP, y + tile_h // 2 - 6), label, fill=(0, 0, 0), font=font)
        for c, patch in enumerate(row):
            pixels = (np.clip(patch, 0, 1) * 255 + 0.5).astype(np.uint8)
            pixels = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
            canvas.paste(Image.fromarray(pixels),
                         (LABEL_WIDTH + GAP + c * (tile_w + GAP), y))
    return np.asarray(canvas)
