"""Receptive fields of a chain of layers, from the architecture alone.

Notation, per layer l and per axis (rows and columns are independent):

- ``r_l``, the size: how many input pixels one unit of layer l depends on.
- ``j_l``, the jump: how many input pixels apart two neighbouring units'
  fields start (the product of the strides so far).
- ``o_l``, the offset: the input pixel where unit 0's field starts. It is
  negative when padding puts part of the field outside the image.

The input itself has r = 1, j = 1, o = 0. A layer with kernel k, stride s
and padding p before the input (top or left) gives::

    j_l = j_{l-1} * s
    r_l = r_{l-1} + (k - 1) * j_{l-1}
    o_l = o_{l-1} - p * j_{l-1}

so unit i of layer l sees input pixels o_l + i * j_l up to
o_l + i * j_l + r_l - 1, inclusive. The centre of unit 0's field, the
"start" of Araujo et al. (2019), is o_l + (r_l - 1) / 2. Element-wise layers
(activations, BatchNorm, Dropout) keep r, j and o.

The window is exact when no layer drops rows or columns past its last full
window (the floor in the output-size formula). Otherwise it is an upper
bound: near the bottom and right edges a unit may depend on fewer pixels
than its window holds, because the pixels in between reach no unit.

References
----------
Dumoulin and Visin, "A guide to convolution arithmetic for deep learning",
arXiv:1603.07285, 2016.
Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural
Networks", Distill, 2019.
"""

import dataclasses

from nnscratch.layers import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    LeakyReLU,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from nnscratch.layers.linear import Flatten, Linear
from nnscratch.layers.pool import GlobalAvgPool2d

ELEMENTWISE = (ReLU, LeakyReLU, Sigmoid, Tanh, BatchNorm2d, Dropout)
WINDOWED = (Conv2d, MaxPool2d, AvgPool2d)
# After these layers every unit depends on the whole input.
GLOBAL = (Flatten, Linear, GlobalAvgPool2d)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the units of one layer's output.

    Attributes
    ----------
    name : str
        The layer's dotted index in the model (``"4"``, or ``"1.2"`` inside
        a nested ``Sequential``).
    layer : str
        The layer's class name.
    size : (int, int)
        ``r`` for rows and columns, in input pixels.
    jump : (int, int)
        ``j`` for rows and columns, in input pixels.
    offset : (int, int)
        ``o`` for rows and columns: the first input row and column seen by
        unit (0, 0).
    """

    name: str
    layer: str
    size: tuple
    jump: tuple
    offset: tuple

    @property
    def start(self):
        """The centre of unit (0, 0)'s field, in input pixels (row, column)."""
        return tuple(o + (r - 1) / 2 for o, r in zip(self.offset, self.size))

    def unit_bounds(self, row, column):
        """Return the input window of unit (row, column), edges exclusive.

        Returns
        -------
        (y1, y2, x1, x2) : tuple of int
            Rows y1 <= y < y2 and columns x1 <= x < x2. The window may reach
            outside the image (y1 < 0, or y2 > H) where padding was added.
        """
        y1 = self.offset[0] + row * self.jump[0]
        x1 = self.offset[1] + column * self.jump[1]
        return y1, y1 + self.size[0], x1, x1 + self.size[1]


def _window(layer):
    """Return (kernel, stride, padding before) as pairs for a windowed layer."""
    top, _, left, _ = layer.pads
    return layer.kernel_size, layer.stride, (top, left)


def receptive_fields(model):
    """Compute the receptive field after every layer of a ``Sequential``.

    Parameters
    ----------
    model : Sequential
        Nested ``Sequential`` layers are walked in order.

    Returns
    -------
    list of ReceptiveField
        One per leaf layer, in order, up to the first layer after which
        every unit sees the whole input (Flatten, Linear, GlobalAvgPool2d),
        which ends the list.

    Raises
    ------
    NotImplementedError
        For a layer whose geometry this module does not know.

    Examples
    --------
    >>> from nnscratch.layers import Conv2d, MaxPool2d
    >>> from nnscratch.model import Sequential
    >>> fields = receptive_fields(Sequential(Conv2d(1, 2, 3, padding=1),
    ...                                      MaxPool2d(2), Conv2d(2, 2, 3)))
    >>> [(f.size, f.jump, f.offset) for f in fields]
    [((3, 3), (1, 1), (-1, -1)), ((4, 4), (2, 2), (-1, -1)), ((8, 8), (2, 2), (-1, -1))]
    """
    size, jump, offset = (1, 1), (1, 1), (0, 0)
    fields = []
    for name, layer in model.named_layers():
        if isinstance(layer, GLOBAL):
            break
        if isinstance(layer, WINDOWED):
            kernel, stride, pad = _window(layer)
            size = tuple(r + (k - 1) * j for r, k, j in zip(size, kernel, jump))
            offset = tuple(o - p * j for o, p, j in zip(offset, pad, jump))
            jump = tuple(j * s for j, s in zip(jump, stride))
        elif not isinstance(layer, ELEMENTWISE):
            raise NotImplementedError(
                f"receptive_fields: layer {name} is a {type(layer).__name__}, "
                "whose geometry is unknown; supported are Conv2d, MaxPool2d, "
                "AvgPool2d, element-wise layers, and Flatten, Linear or "
                "GlobalAvgPool2d to end the walk"
            )
        fields.append(ReceptiveField(name, type(layer).__name__, size, jump, offset))
    return fields


def format_receptive_fields(fields):
    """Return a text table of ``fields``, one line per layer."""
    lines = [f"{'layer':<18}{'size':>10}{'jump':>8}{'offset':>10}{'start':>12}"]
    for field in fields:
        lines.append(
            f"{field.name + ' ' + field.layer:<18}"
            f"{field.size[0]:>5}x{field.size[1]:<4}"
            f"{field.jump[0]:>4}x{field.jump[1]:<3}"
            f"{field.offset[0]:>5},{field.offset[1]:<4}"
            f"{field.start[0]:>6.1f},{field.start[1]:<5.1f}"
        )
    return "\n".join(lines)
