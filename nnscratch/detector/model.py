"""The small YOLO network: 3x3 conv + BatchNorm + LeakyReLU blocks, 2x2 max
pools, and a 1x1 output convolution with A x (5 + K) channels.

With four pools the grid stride is 16 pixels: a 128 x 128 input gives an
8 x 8 grid, a 416 x 416 input a 26 x 26 grid. With ``grid_stride=8`` the last
block keeps its resolution, so the grid is twice as fine (16 x 16 for 128 x
128), which places small objects more precisely for about 25% more FLOPs. The
network is fully convolutional, so it runs on any input whose sides are
multiples of its grid stride.
"""

from nnscratch.layers import BatchNorm2d, Conv2d, LeakyReLU, MaxPool2d
from nnscratch.model import Sequential
from nnscratch.zoo import register_model

GRID_STRIDE = 16
# Grid stride -> number of 2x2 max pools among the five blocks.
GRID_STRIDES = {16: 4, 8: 3}


def _block(in_channels, out_channels, pool):
    layers = [
        Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        BatchNorm2d(out_channels),
        LeakyReLU(0.1),
    ]
    if pool:
        layers.append(MaxPool2d(2))
    return layers


@register_model("detector")
def build_detector(num_classes, num_anchors, width=16, grid_stride=GRID_STRIDE):
    """Build the detector.

    Parameters
    ----------
    num_classes : int
        K.
    num_anchors : int
        A.
    width : int
        Channels of the first block; later blocks use 2x, 4x, 4x and 8x.
    grid_stride : {16, 8}
        Input pixels per grid cell: 2 ** (number of 2x2 max pools).

    Returns
    -------
    Sequential
        Maps (N, 3, H, W) to (N, A * (5 + K), H / grid_stride, W / grid_stride).
    """
    if grid_stride not in GRID_STRIDES:
        raise ValueError(
            f"build_detector: grid_stride must be one of {sorted(GRID_STRIDES)}, "
            f"got {grid_stride!r}"
        )
    pools = GRID_STRIDES[grid_stride]
    channels = [3, width, 2 * width, 4 * width, 4 * width, 8 * width]
    layers = []
    for index in range(5):
        layers += _block(channels[index], channels[index + 1], pool=index < pools)
    layers.append(Conv2d(channels[-1], num_anchors * (5 + num_classes), 1))
    return Sequential(*layers)
