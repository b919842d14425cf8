"""A picture of a convolution's filters, one tile per filter."""

import numpy as np

GAP = 2  # pixels of background between tiles


def filter_grid(weight, scale=None, columns=None):
    """Lay out the filters of a convolution as one image.

    Parameters
    ----------
    weight : ndarray of shape (F, C, KH, KW)
        A first-layer weight, with C = 1 (shown grey) or C = 3 (shown as RGB).
    scale : int, optional
        Each weight becomes a ``scale`` x ``scale`` block of pixels; by
        default the smallest that makes a tile at least 48 pixels wide.
    columns : int, optional
        Tiles per row; about sqrt(F) when omitted.

    Returns
    -------
    ndarray of shape (rows (KH scale + GAP) + GAP, columns (KW scale + GAP) + GAP, 3)
        uint8. Each filter is scaled on its own so that its largest absolute
        weight reaches 0 or 255 and a weight of 0 is mid-grey (128), so
        positive weights are bright and negative ones dark. The background is
        white.
    """
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4 or weight.shape[1] not in (1, 3):
        raise ValueError(
            f"filter_grid: weight must have shape (F, 1 or 3, KH, KW), got "
            f"{weight.shape}; only a first layer's filters can be shown as images"
        )
    F, C, KH, KW = weight.shape
    if scale is None:
        scale = -(-48 // KW)
    if not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"filter_grid: scale must be a positive int, got {scale!r}")
    columns = columns or int(np.ceil(np.sqrt(F)))
    rows = -(-F // columns)

    peak = np.abs(weight).reshape(F, -1).max(axis=1)  # (F,)
    peak[peak == 0] = 1.0  # an all-zero filter stays mid-grey
    tiles = 0.5 + 0.5 * weight / peak[:, None, None, None]  # (F, C, KH, KW)
    tiles = np.repeat(tiles.transpose(0, 2, 3, 1), 3 // C, axis=3)  # (F, KH, KW, 3)
    tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)

    tile_h, tile_w = KH * scale, KW * scale
    grid = np.full((rows * (tile_h + GAP) + GAP, columns * (tile_w + GAP) + GAP, 3),
                   255, dtype=np.uint8)
    for index in range(F):
        row, column = divmod(index, columns)
        y, x = GAP + row * (tile_h + GAP), GAP + column * (tile_w + GAP)
        grid[y:y + tile_h, x:x + tile_w] = np.round(tiles[index] * 255)
    return grid
