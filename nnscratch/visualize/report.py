"""Write the pictures of what a checkpoint's units respond to."""

import json
import os

import numpy as np

from nnscratch.data.images import save_image
from nnscratch.layers import Conv2d
from nnscratch.visualize.data import batches_of, folder_images, training_images
from nnscratch.visualize.filters import filter_grid
from nnscratch.visualize.receptive_field import (
    format_receptive_fields,
    receptive_fields,
)
from nnscratch.visualize.top_patches import (
    crop_patch,
    max_activations,
    patch_grid,
    top_images,
    unit_layers,
)


def chosen_channels(num_channels, count):
    """Return ``count`` channel indices spread evenly over 0 .. num_channels - 1."""
    count = min(count, num_channels)
    return sorted(set(np.linspace(0, num_channels - 1, count).round().astype(int)))


def visualize_model(model, images, out_dir, units=8, k=9, layers=3):
    """Write the first layer's filters and the top patches of chosen units.

    Parameters
    ----------
    model : Sequential
        In eval mode; its first leaf layers must include a ``Conv2d``.
    images : ndarray of shape (N, C, H, W), or list of (C, H_i, W_i) arrays
        Float in [0, 1], C = 1 or 3.
    out_dir : str or os.PathLike
        Receives ``filters.png``, ``top9_conv<i>.png`` for each of the
        first ``layers`` convolutions, ``receptive_fields.txt`` and
        ``top9.json`` (every patch's image, unit position, activation and
        window).
    units : int
        Channels shown per layer, spread evenly over its channels.
    k : int
        Patches per unit.
    layers : int
        How many convolutions, from the input on.

    Returns
    -------
    dict
        What ``top9.json`` contains.
    """
    leaves = [(name, layer) for name, layer in model.named_layers()]
    convs = [layer for _, layer in leaves if isinstance(layer, Conv2d)]
    if not convs:
        raise ValueError("visualize_model: the model has no Conv2d layer")
    os.makedirs(out_dir, exist_ok=True)
    save_image(os.path.join(out_dir, "filters.png"),
               filter_grid(convs[0].params["weight"]))

    fields = receptive_fields(model)
    with open(os.path.join(out_dir, "receptive_fields.txt"), "w") as stream:
        stream.write(format_receptive_fields(fields) + "\n")

    taps = unit_layers(model, layers)
    images = list(images)
    found = max_activations(model, batches_of(images), taps)
    summary = {"images": len(images), "layers": []}
    for number, tap in enumerate(taps, start=1):
        field = fields[tap]
        values, rows, columns = found[tap]
        top = top_images(values, k)  # (F, k)
        rows_of_patches, labels, entries = [], [], []
        for channel in chosen_channels(values.shape[1], units):
            patches, patch_entries = [], []
            for image_index in top[channel]:
                row, column = int(rows[image_index, channel]), int(columns[image_index, channel])
                bounds = field.unit_bounds(row, column)
                picture = images[image_index].transpose(1, 2, 0)  # (H, W, C)
                if picture.shape[2] == 1:
                    picture = np.repeat(picture, 3, axis=2)
                patches.append(crop_patch(picture, bounds))
                patch_entries.append({
                    "image": int(image_index), "row": row, "column": column,
                    "activation": float(values[image_index, channel]),
                    "window_yyxx": [int(b) for b in bounds],
                })
            rows_of_patches.append(patches)
            labels.append(f"channel {channel}")
            entries.append({"channel": int(channel), "patches": patch_entries})
        save_image(os.path.join(out_dir, f"top{k}_conv{number}.png"),
                   patch_grid(rows_of_patches, labels))
        summary["layers"].append({
            "conv": number, "layer": field.name, "receptive_field": list(field.size),
            "jump": list(field.jump), "offset": list(field.offset), "units": entries,
        })
    with open(os.path.join(out_dir, f"top{k}.json"), "w") as stream:
        json.dump(summary, stream, indent=1)
    return summary


def smallest_input_side(model, channels, layers=3, largest=4096):
    """Return the smallest square input side that the layers up to the last
    unit layer shown (``unit_layers(model, layers)``) accept."""
    leaves = [layer for _, layer in model.named_layers()]
    taps = unit_layers(model, layers)
    needed = leaves[: taps[-1] + 1] if taps else leaves
    for side in range(1, largest + 1):
        shape = (1, channels, side, side)
        try:
            for layer in needed:
                shape = layer.output_shape(shape)
        except ValueError:
            continue
        return side
    raise ValueError(f"the model accepts no square input up to {largest} pixels")


def visualize_checkpoint(path, out_dir, data=None, units=8, max_images=1000):
    """Load a checkpoint and run ``visualize_model`` on its dataset or a folder.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint whose metadata names its model (``nnscratch.zoo``).
    out_dir : str or os.PathLike
    data : str or os.PathLike, optional
        A folder of images; the checkpoint's training images when omitted
        (``training_images``).
    units : int
    max_images : int
        Search at most this many images.

    Returns
    -------
    summary : dict
        ``visualize_model``'s, plus the receptive fields' text under
        ``"receptive_fields"``.
    """
    from nnscratch.zoo import load_model

    model, metadata = load_model(path)
    first = next(layer for _, layer in model.named_layers())
    if not isinstance(first, Conv2d):
        raise ValueError(
            f"{os.fspath(path)!r}: the model's first layer is a "
            f"{type(first).__name__}, not a Conv2d, so it has no filters to show"
        )
    if data is None:
        images = training_images(metadata["model"]["name"], max_images)
    else:
        images = folder_images(data, first.in_channels, max_images,
                               min_side=smallest_input_side(model, first.in_channels))
    summary = visualize_model(model, images, out_dir, units=units)
    with open(os.path.join(out_dir, "receptive_fields.txt")) as stream:
        summary["receptive_fields"] = stream.read()
    return summary
