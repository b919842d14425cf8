"""Pictures of what a trained network's units respond to.

Submodules:

- ``receptive_field``: size, jump and offset of every layer's units, computed
  from the architecture.
- ``filters``: the first layer's filters as a grid.
- ``top_patches``: the dataset patches that activate a unit most, cut to its
  receptive field.
- ``data``: which images to search.
- ``report``: all of the above for one checkpoint.
"""

from nnscratch.visualize.filters import filter_grid
from nnscratch.visualize.receptive_field import ReceptiveField, receptive_fields
from nnscratch.visualize.report import visualize_checkpoint, visualize_model
from nnscratch.visualize.top_patches import (
    crop_patch,
    max_activations,
    top_images,
    unit_layers,
)

__all__ = [
    "ReceptiveField",
    "crop_patch",
    "filter_grid",
    "max_activations",
    "receptive_fields",
    "top_images",
    "unit_layers",
    "visualize_checkpoint",
    "visualize_model",
]
