"""Tiny identity folders made from scikit-image's bundled photographs.

Each identity is one photograph. Its images are random crops of it with a
little brightness change, so images of one identity share content and images
of different identities do not.
"""

import numpy as np
from PIL import Image
from skimage import data

PHOTOGRAPHS = {
    "astronaut": data.astronaut,
    "camera": data.camera,
    "chelsea": data.chelsea,
    "coffee": data.coffee,
    "rocket": data.rocket,
}


def grey_photograph(name):
    pixels = PHOTOGRAPHS[name]().astype(np.float32) / 255
    return pixels.mean(axis=2) if pixels.ndim == 3 else pixels  # (H, W)


def crops(photograph, count, size, rng, share=0.7):
    """Return ``count`` random square crops covering ``share`` of the short side."""
    H, W = photograph.shape
    side = int(share * min(H, W))
    images = []
    for _ in range(count):
        top = rng.integers(0, H - side + 1)
        left = rng.integers(0, W - side + 1)
        crop = photograph[top:top + side, left:left + side]
        crop = np.clip(crop * rng.uniform(0.9, 1.1), 0, 1)
        resized = Image.fromarray((crop * 255).astype(np.uint8)).resize((size, size))
        images.append(resized)
    return images


def make_identity_folder(root, names=("astronaut", "camera", "chelsea", "coffee"),
                         per_identity=6, size=16, seed=0):
    """Write ``root/<name>/<index>.png`` and return the folder."""
    rng = np.random.default_rng(seed)
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        for index, image in enumerate(crops(grey_photograph(name), per_identity, size,
                                            rng)):
            image.save(folder / f"{index}.png")
    return root
