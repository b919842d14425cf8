"""The contract every layer follows: parameters, gradients, forward, backward."""

import numpy as np


class Parameter:
    """A named view of one trainable array and its gradient inside a layer.

    Optimisers update ``data`` in place and read ``grad`` after each backward
    pass, so they always see the arrays the layer itself uses.
    """

    def __init__(self, name, layer, key):
        self.name = name
        self.layer = layer
        self.key = key

    @property
    def data(self):
        return self.layer.params[self.key]

    @property
    def grad(self):
        return self.layer.grads.get(self.key)

    def __repr__(self):
        return f"Parameter({self.name!r}, shape={self.data.shape})"


class Layer:
    """Base class: a differentiable map with hand-written forward and backward.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable arrays under PyTorch's names (``weight``, ``bias``).
    grads : dict of str to ndarray
        Gradients of the loss with respect to ``params``, same keys and shapes.
        ``backward`` overwrites them: each call holds the gradient of the last
        backward pass only. To share weights between branches (a Siamese
        network), run both branches as one batch.
    buffers : dict of str to ndarray
        State saved in checkpoints but not trained (``running_mean``).
    training : bool
        Train mode (batch statistics, dropout on) or eval mode.
    ignored_state_keys : tuple of str
        Keys that PyTorch's counterpart saves but this layer does not use;
        ``Sequential.load_state_dict`` skips them.
    """

    ignored_state_keys = ()

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self._cache = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def output_shape(self, input_shape):
        """Return the output shape for an input of ``input_shape`` (N first)."""
        return tuple(input_shape)

    def flops(self, input_shape):
        """Return the forward pass's floating-point operations (a multiply-add
        counts as two)."""
        return 0

    def astype(self, dtype):
        """Convert parameters and buffers to ``dtype`` in place; return self."""
        for store in (self.params, self.buffers):
            for key, value in store.items():
                store[key] = value.astype(dtype)
        self.grads = {}
        return self

    def _pop_cache(self):
        """Return what ``forward`` cached, or raise if it has not run."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward; "
                "call forward(x) first, then backward(dout) once"
            )
        cache, self._cache = self._cache, None
        return cache

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self):
        return ""


def check_input(x, ndim, name, layer):
    """Validate a layer input: an ndarray of ``ndim`` floating dimensions."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} expects a numpy.ndarray, got {type(x).__name__}; "
            "convert with np.asarray(x, dtype=np.float32)"
        )
    if x.ndim != ndim:
        raise ValueError(
            f"{name} expects a {ndim}-D input, got shape {x.shape}"
            + ("; arrays are NCHW, add a batch axis with x[None]" if ndim == 4 else "")
        )
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} expects float32 or float64 input, got {x.dtype}; "
            "convert with x.astype(np.float32)"
        )


def check_dtype_matches(x, weight, name):
    """Raise if the input's dtype differs from the layer's parameters."""
    if x.dtype != weight.dtype:
        raise TypeError(
            f"{name} has {weight.dtype} parameters but got {x.dtype} input; "
            f"convert the input with x.astype(np.{weight.dtype}) or the layer "
            f"with layer.astype(np.{x.dtype})"
        )


def check_dout(dout, expected_shape, name):
    """Raise unless ``dout`` has the shape of the forward pass's output.

    Element-wise products would otherwise broadcast a wrong shape silently.
    """
    shape = getattr(dout, "shape", None)
    if shape != tuple(expected_shape):
        raise ValueError(
            f"{name}.backward expects dout of shape {tuple(expected_shape)}, the "
            f"shape of forward's output, got "
            f"{shape if shape is not None else type(dout).__name__}"
        )


def pair(value, name):
    """Return ``value`` as a pair of ints, accepting an int or a 2-sequence."""
    # bool is a subclass of int, but kernel_size=True is a mistake, not 1.
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, (tuple, list))
        and any(isinstance(v, (bool, np.bool_)) for v in value)
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, (int, np.integer)) for v in value):
            return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size, kernel, stride, padding_before, padding_after):
    """Return floor((size + P_before + P_after - K) / S) + 1."""
    return (size + padding_before + padding_after - kernel) // stride + 1
