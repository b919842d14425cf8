"""Edge detection with the course's kernels, run through ``Conv2d``.

The kernels, applied as cross-correlation (no flip) as every CNN layer does::

    vertical      horizontal     Sobel x        Sobel y
    1  0 -1        1  1  1       1  0 -1        1  2  1
    1  0 -1        0  0  0       2  0 -2        0  0  0
    1  0 -1       -1 -1 -1       1  0 -1       -1 -2 -1

A vertical edge with bright pixels on the left gives a positive vertical
response. The Sobel magnitude is sqrt(Sobel_x^2 + Sobel_y^2). All four
kernels are the filters of one ``Conv2d(1, 4, 3, bias=False)``, so a single
forward pass computes every response.
"""

import numpy as np

from nnscratch.layers import Conv2d
from nnscratch.plots import label_font

VERTICAL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float32)
HORIZONTAL = VERTICAL.T.copy()
SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
SOBEL_Y = SOBEL_X.T.copy()
EDGE_KERNELS = {"vertical": VERTICAL, "horizontal": HORIZONTAL,
                "sobel_x": SOBEL_X, "sobel_y": SOBEL_Y}

PANEL_LABELS = {
    "input": "input",
    "vertical": "vertical [1 0 -1]",
    "horizontal": "horizontal",
    "sobel_x": "Sobel x",
    "sobel_y": "Sobel y",
    "sobel_magnitude": "Sobel magnitude",
}
PANEL_ORDER = tuple(PANEL_LABELS)
GRID_COLUMNS = 3
LABEL_HEIGHT = 24  # pixels above each panel for its label
GAP = 4  # pixels between panels and around the grid


def edge_layer(padding=0, dtype=np.float32):
    """Return a ``Conv2d(1, 4, 3, bias=False)`` whose filters are ``EDGE_KERNELS``."""
    layer = Conv2d(1, len(EDGE_KERNELS), 3, padding=padding, bias=False, dtype=dtype)
    weight = np.stack(list(EDGE_KERNELS.values()))[:, None]  # (4, 1, 3, 3)
    layer.params["weight"] = weight.astype(dtype)
    return layer.eval()


def edge_responses(image, padding=0):
    """Convolve a grey image with the edge kernels.

    Parameters
    ----------
    image : ndarray of shape (H, W), float
        Any value range; the responses scale with it.
    padding : int or "same"
        Zero padding; 0 gives (H - 2, W - 2) responses, "same" keeps (H, W).

    Returns
    -------
    dict of str to ndarray of shape (OH, OW), dtype float32 or float64
        ``"vertical"``, ``"horizontal"``, ``"sobel_x"``, ``"sobel_y"`` and
        ``"sobel_magnitude"``.

    Examples
    --------
    The course's 6x6 image, bright (10) on the left half:

    >>> image = np.array([[10, 10, 10, 0, 0, 0]] * 6, dtype=np.float32)
    >>> edge_responses(image)["vertical"][0].tolist()
    [0.0, 30.0, 30.0, 0.0]
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(
            f"edge_responses: image must be grey, of shape (H, W), got {image.shape}; "
            "convert colour images with load_image(path, mode='L')"
        )
    dtype = np.float64 if image.dtype == np.float64 else np.float32
    layer = edge_layer(padding, dtype)
    out = layer.forward(image.astype(dtype)[None, None])[0]  # (4, OH, OW)
    responses = dict(zip(EDGE_KERNELS, out))
    responses["sobel_magnitude"] = np.hypot(responses["sobel_x"], responses["sobel_y"])
    return responses


def _to_display(values, signed):
    """Map a response to [0, 1] for display, saturating at the 99th percentile of |v|.

    Signed responses put 0 at mid-grey, so dark and bright edges both show.
    """
    scale = float(np.percentile(np.abs(values), 99)) or float(np.abs(values).max())
    scale = scale or 1.0
    if signed:
        return np.clip(0.5 + 0.5 * values / scale, 0, 1)
    return np.clip(values / scale, 0, 1)


def edge_figure(image, responses):
    """Lay the input and its responses side by side with labels, as one image.

    Parameters
    ----------
    image : ndarray of shape (H, W), values in [0, 1]
    responses : dict from ``edge_responses``, each of shape (OH, OW)
        The input is centre-cropped to (OH, OW) so the panels line up pixel
        for pixel.

    Returns
    -------
    ndarray of shape (2 (OH + LABEL_HEIGHT) + 3 GAP, 3 OW + 4 GAP, 3), uint8
        Panels in ``PANEL_ORDER``, three per row, each under its label.
    """
    from PIL import Image, ImageDraw

    OH, OW = responses["vertical"].shape
    H, W = image.shape
    top, left = (H - OH) // 2, (W - OW) // 2
    panels = {"input": np.clip(image[top:top + OH, left:left + OW], 0, 1)}
    for name in EDGE_KERNELS:
        panels[name] = _to_display(responses[name], signed=True)
    panels["sobel_magnitude"] = _to_display(responses["sobel_magnitude"], signed=False)

    rows = -(-len(PANEL_ORDER) // GRID_COLUMNS)
    height = rows * (OH + LABEL_HEIGHT) + (rows + 1) * GAP
    width = GRID_COLUMNS * OW + (GRID_COLUMNS + 1) * GAP
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = label_font(16)
    for index, name in enumerate(PANEL_ORDER):
        row, column = divmod(index, GRID_COLUMNS)
        x0 = GAP + column * (OW + GAP)
        y0 = GAP + row * (OH + LABEL_HEIGHT + GAP)
        draw.text((x0 + 2, y0 + 2), PANEL_LABELS[name], fill=(0, 0, 0), font=font)
        grey = (panels[name] * 255 + 0.5).astype(np.uint8)
        canvas.paste(Image.fromarray(grey).convert("RGB"), (x0, y0 + LABEL_HEIGHT))
    return np.asarray(canvas)


def edges_of_photograph(image_path=None, max_side=1024):
    """Load a photograph as grey, shrink it if needed, and return its edge figure.

    Parameters
    ----------
    image_path : str or os.PathLike, optional
        Any image Pillow reads; scikit-image's ``camera`` photograph if None.
    max_side : int or None
        Photographs whose longer side exceeds this are shrunk to it first
        (Lanczos), which bounds time and memory; None keeps the full size.

    Returns
    -------
    figure : ndarray of shape (height, width, 3), uint8
        See ``edge_figure``.
    responses : dict of str to ndarray
    """
    from PIL import Image

    if image_path is None:
        from skimage import data

        grey = data.camera().astype(np.float32) / 255.0
    else:
        from nnscratch.data.images import load_image

        grey = load_image(image_path, mode="L")
    if min(grey.shape) < 3:
        raise ValueError(
            f"edges_of_photograph: the image is {grey.shape[0]}x{grey.shape[1]} "
            "pixels; the 3x3 kernels need at least 3x3"
        )
    if max_side is not None and max(grey.shape) > max_side:
        scale = max_side / max(grey.shape)
        height, width = grey.shape
        size = (max(3, round(width * scale)), max(3, round(height * scale)))
        resized = Image.fromarray(grey.astype(np.float32)).resize(size, Image.LANCZOS)
        grey = np.clip(np.asarray(resized), 0, 1)  # Lanczos overshoots at edges
    responses = edge_responses(grey)
    return edge_figure(grey, responses), responses
