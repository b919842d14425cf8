"""Images for style transfer: bundled photographs, resizing and result figures."""

import numpy as np
from PIL import Image, ImageDraw

from nnscratch.plots import label_font

# scikit-image photographs used when no image is given. The astronaut is
# public domain (NASA); the immunohistochemistry slide, with its brown and blue
# stain, gives a texture and a palette far from the astronaut's.
DEFAULT_CONTENT = "astronaut"
DEFAULT_STYLE = "immunohistochemistry"
LABEL_HEIGHT = 22  # pixels above each panel for its label
GAP = 4  # pixels between panels and around the figure


def bundled_photograph(name):
    """Return one of scikit-image's bundled RGB photographs.

    Parameters
    ----------
    name : str
        A function of ``skimage.data`` that returns an RGB image, such as
        ``"astronaut"``, ``"coffee"``, ``"chelsea"`` or ``"hubble_deep_field"``.

    Returns
    -------
    ndarray of shape (H, W, 3), float32
        Values in [0, 1].
    """
    import skimage.data

    loader = getattr(skimage.data, name, None)
    if loader is None or not callable(loader):
        raise ValueError(
            f"unknown scikit-image photograph {name!r}; try astronaut, coffee, "
            "chelsea, hubble_deep_field or immunohistochemistry"
        )
    image = np.asarray(loader())
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(
            f"scikit-image's {name!r} is not an RGB photograph (shape {image.shape})"
        )
    return image[..., :3].astype(np.float32) / 255.0


def resize_longer_side(image, size):
    """Resize an image so that its longer side is ``size`` pixels.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float in [0, 1]
    size : int
        Target length of the longer side; the aspect ratio is kept.

    Returns
    -------
    ndarray of shape (H', W', 3), float32
        Lanczos-resampled per channel and clipped to [0, 1].
    """
    if not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"size must be an int >= 8 pixels, got {size!r}")
    H, W = image.shape[:2]
    scale = size / max(H, W)
    new_size = (max(1, round(W * scale)), max(1, round(H * scale)))  # PIL: (W, H)
    channels = [
        np.asarray(Image.fromarray(np.asarray(image[..., c], dtype=np.float32))
                   .resize(new_size, Image.LANCZOS))
        for c in range(3)
    ]
    # Lanczos overshoots next to sharp edges, so clip back into [0, 1].
    return np.clip(np.stack(channels, axis=-1), 0, 1).astype(np.float32)


def side_by_side(panels, labels):
    """Lay images out in one row, each under its label, as one uint8 image.

    Parameters
    ----------
    panels : sequence of ndarray of shape (H_i, W_i, 3), float in [0, 1]
        Panels of different heights are aligned at the top.
    labels : sequence of str
        One label per panel.

    Returns
    -------
    ndarray of shape (max H_i + LABEL_HEIGHT + 2 GAP, sum W_i + (n + 1) GAP, 3)
        uint8 on a white background.
    """
    if len(panels) != len(labels):
        raise ValueError(
            f"side_by_side: got {len(panels)} panels but {len(labels)} labels"
        )
    height = max(panel.shape[0] for panel in panels) + LABEL_HEIGHT + 2 * GAP
    width = sum(panel.shape[1] for panel in panels) + (len(panels) + 1) * GAP
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = label_font(14)

    x0 = GAP
    for panel, label in zip(panels, labels):
        draw.text((x0 + 2, GAP + 2), label, fill=(0, 0, 0), font=font)
        pixels = (np.clip(panel, 0, 1) * 255 + 0.5).astype(np.uint8)
        canvas.paste(Image.fromarray(pixels), (x0, GAP + LABEL_HEIGHT))
        x0 += panel.shape[1] + GAP
    return np.asarray(canvas)
