"""nnscratch: convolutional networks from scratch in NumPy and Numba.

Every layer has a hand-written forward and backward pass; there is no autograd.

Notation, used in every docstring and comment of the package:

======  ==============================================
N       batch size
C       input channels
H, W    input height and width
F       filters (output channels)
KH, KW  kernel height and width
S       stride (SH, SW per axis)
P       padding (PH, PW per axis)
OH, OW  output height and width
======  ==============================================

Arrays are NCHW, float32 by default (float64 for gradient checks). The
gradient of the loss with respect to ``v`` is written ``dv``.
"""

from nnscratch.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nnscratch.init import manual_seed
from nnscratch.model import Sequential

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "Sequential",
    "load_checkpoint",
    "manual_seed",
    "save_checkpoint",
]
