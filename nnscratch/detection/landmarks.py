"""Landmark detection: regress the (x, y) position of L points on an object.

Landmarks are eye corners and mouth corners on a face, or body joints for
pose estimation. Coordinates are fractions of the image, (0, 0) at the
top-left corner and (1, 1) at the bottom-right, x to the right, y down. The
points keep a fixed order (landmark 0 is always the same eye corner), which
is what lets one output unit learn one point.

References
----------
Zhang, Luo, Loy and Tang, "Facial Landmark Detection by Deep Multi-task
Learning", ECCV 2014.
Chen and Yuille, "Articulated Pose Estimation by a Graphical Model with Image
Dependent Pairwise Relations", NIPS 2014.
"""

import numpy as np

from nnscratch.layers.linear import Linear


class LandmarkHead(Linear):
    """A fully connected layer whose 2L outputs are read as L (x, y) points.

    Parameters
    ----------
    in_features : int
    num_landmarks : int
        L.
    bias, dtype, rng
        As in ``Linear``.

    Notes
    -----
    Output unit ``2 l`` is the x of landmark ``l`` and unit ``2 l + 1`` its y.
    The parameters are those of ``Linear(in_features, 2 * L)``, under the same
    names, so checkpoints of either load into the other.
    """

    def __init__(self, in_features, num_landmarks, bias=True, dtype=np.float32,
                 rng=None):
        if (isinstance(num_landmarks, bool)
                or not isinstance(num_landmarks, (int, np.integer))
                or num_landmarks < 1):
            raise ValueError(
                f"LandmarkHead: num_landmarks must be a positive int, got "
                f"{num_landmarks!r}"
            )
        super().__init__(in_features, 2 * int(num_landmarks), bias=bias,
                         dtype=dtype, rng=rng)
        self.num_landmarks = int(num_landmarks)

    def extra_repr(self):
        return (f"in_features={self.in_features}, "
                f"num_landmarks={self.num_landmarks}, bias={'bias' in self.params}")

    def output_shape(self, input_shape):
        return (input_shape[0], self.num_landmarks, 2)

    def forward(self, x):
        out = super().forward(x)
        return out.reshape(x.shape[0], self.num_landmarks, 2)  # (N, L, 2)

    def backward(self, dout):
        N = dout.shape[0]
        if dout.shape[1:] != (self.num_landmarks, 2):
            raise ValueError(
                f"LandmarkHead.backward expects dout of shape "
                f"(N, {self.num_landmarks}, 2), got {dout.shape}"
            )
        return super().backward(dout.reshape(N, 2 * self.num_landmarks))  # (N, 2L)


def landmark_loss(pred, target, visible=None):
    """Squared-error landmark loss and its gradient.

    Parameters
    ----------
    pred : ndarray of shape (N, L, 2), float32 or float64
        Predicted (x, y) of each landmark.
    target : ndarray of shape (N, L, 2)
        True (x, y), in the same units as ``pred``.
    visible : ndarray of shape (N, L), bool, optional
        Landmarks marked False (hidden or not annotated) add nothing to the
        loss and get a zero gradient. All visible by default.

    Returns
    -------
    loss : float
        Sum over visible landmarks of (x - x*)^2 + (y - y*)^2, averaged over
        the N images.
    dpred : ndarray of shape (N, L, 2), dtype of ``pred``
        2 (pred - target) / N on visible landmarks, 0 elsewhere.
    """
    if not isinstance(pred, np.ndarray) or pred.dtype not in (np.float32, np.float64):
        raise TypeError(
            "landmark_loss: pred must be a float32 or float64 numpy.ndarray, got "
            f"{getattr(pred, 'dtype', type(pred).__name__)}"
        )
    if pred.ndim != 3 or pred.shape[2] != 2:
        raise ValueError(
            f"landmark_loss: pred must have shape (N, L, 2), got {pred.shape}"
        )
    target = np.asarray(target, dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"landmark_loss: target shape {target.shape} differs from pred shape "
            f"{pred.shape}"
        )
    if visible is None:
        visible = np.ones(pred.shape[:2], dtype=bool)
    visible = np.asarray(visible)
    if visible.shape != pred.shape[:2] or visible.dtype != bool:
        raise ValueError(
            f"landmark_loss: visible must be a bool array of shape {pred.shape[:2]}, "
            f"got {visible.dtype} of shape {visible.shape}"
        )

    N = max(pred.shape[0], 1)
    diff = (pred - target) * visible[..., None]
    loss = float((diff * diff).sum() / N)
    return loss, (2 * diff / N).astype(pred.dtype, copy=False)
