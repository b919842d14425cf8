"""A chain of layers with one forward and one backward pass."""

import inspect

import numpy as np

from nnscratch.layers.base import Layer, Parameter


class Sequential(Layer):
    """Run layers in order; backward runs them in reverse.

    Parameters
    ----------
    *layers : Layer
        The chain. A ``Sequential`` may hold another one.

    Notes
    -----
    Keys of ``state_dict`` follow PyTorch: ``"<index>.<name>"``, such as
    ``"0.weight"`` or ``"3.running_mean"``, with nested indices joined by dots.
    """

    def __init__(self, *layers):
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: argument {index} must be a Layer, got "
                    f"{type(layer).__name__}"
                )
        self.layers = list(layers)

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, input_grad=True):
        """Run every layer's backward pass in reverse and return d(loss)/d(input).

        With ``input_grad=False`` the first layer may skip the gradient with
        respect to the network's input, which training never uses. The
        parameter gradients are the same, and the return value is then None.
        Only a first layer whose ``backward`` takes ``input_grad``
        (``Conv2d``, a nested ``Sequential``) skips work.
        """
        first = self.layers[0] if self.layers else None
        for layer in reversed(self.layers):
            if layer is first and not input_grad and _can_skip_input_grad(layer):
                layer.backward(dout, input_grad=False)
                return None
            dout = layer.backward(dout)
        return dout if input_grad else None

    def train(self, mode=True):
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def astype(self, dtype):
        for layer in self.layers:
            layer.astype(dtype)
        return self

    def named_layers(self, prefix=""):
        """Yield ``(dotted_name, layer)`` for every leaf layer, in order."""
        for index, layer in enumerate(self.layers):
            name = f"{prefix}{index}"
            if isinstance(layer, Sequential):
                yield from layer.named_layers(prefix=name + ".")
            else:
                yield name, layer

    def parameters(self):
        """Return the trainable arrays as ``Parameter`` views, in layer order."""
        return [
            Parameter(f"{name}.{key}", layer, key)
            for name, layer in self.named_layers()
            for key in layer.params
        ]

    def zero_grad(self):
        """Drop every stored gradient."""
        for _, layer in self.named_layers():
            layer.grads = {}

    def state_dict(self):
        """Return every parameter and buffer under PyTorch-style keys (copies)."""
        state = {}
        for name, layer in self.named_layers():
            for store in (layer.params, layer.buffers):
                for key, value in store.items():
                    state[f"{name}.{key}"] = value.copy()
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into the layers, checking keys and shapes.

        Parameters
        ----------
        state : mapping of str to ndarray
        strict : bool
            Raise on missing or unexpected keys. Shapes are always checked, and
        nothing is loaded unless every shape fits. Keys a layer lists in
        ``ignored_state_keys`` (PyTorch's ``num_batches_tracked``) are skipped.

        Returns
        -------
        missing, unexpected : list of str
        """
        targets = {}
        ignored = set()
        for name, layer in self.named_layers():
            for store in (layer.params, layer.buffers):
                for key in store:
                    targets[f"{name}.{key}"] = (store, key)
            ignored.update(f"{name}.{key}" for key in layer.ignored_state_keys)

        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets) - ignored)
        if strict and (missing or unexpected):
            raise KeyError(
                f"state dict does not match the model: missing keys {missing}, "
                f"unexpected keys {unexpected}; pass strict=False to load the "
                "keys that match"
            )
        # Check every shape before copying, so a bad entry loads nothing.
        loads = []
        for full_key, (store, key) in targets.items():
            if full_key not in state:
                continue
            value = np.asarray(state[full_key])
            if value.shape != store[key].shape:
                raise ValueError(
                    f"state dict entry {full_key!r} has shape {value.shape}, "
                    f"the model expects {store[key].shape}"
                )
            loads.append((store, key, value))
        for store, key, value in loads:
            store[key] = value.astype(store[key].dtype)  # astype copies
        return missing, unexpected

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def flops(self, input_shape):
        total, shape = 0, tuple(input_shape)
        for layer in self.layers:
            total += layer.flops(shape)
            shape = layer.output_shape(shape)
        return total

    def summary(self, input_shape, dtype=np.float32, file=None):
        """Print each layer's output shape, parameters, FLOPs and activation size.

        Parameters
        ----------
        input_shape : tuple of int
            Including the batch axis, e.g. (1, 3, 224, 224).
        dtype : numpy dtype
            Sets the bytes per activation value.
        file : writable text stream, optional
            Defaults to standard output.

        Returns
        -------
        str
            The printed table.
        """
        itemsize = np.dtype(dtype).itemsize
        rows = [("layer", "output shape", "params", "MFLOPs", "activations")]
        shape = tuple(input_shape)
        totals = [0, 0, 0]
        for name, layer in self.named_layers():
            flops = layer.flops(shape)
            shape = layer.output_shape(shape)
            count = sum(v.size for v in layer.params.values())
            memory = int(np.prod(shape)) * itemsize
            totals = [totals[0] + count, totals[1] + flops, totals[2] + memory]
            rows.append((f"{name}: {type(layer).__name__}", str(shape), f"{count:,}",
                         f"{flops / 1e6:,.2f}", _format_bytes(memory)))
        rows.append(("total", "", f"{totals[0]:,}", f"{totals[1] / 1e6:,.2f}",
                     _format_bytes(totals[2])))

        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = []
        for index, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
            lines.append("  ".join(cells))
            if index in (0, len(rows) - 2):
                lines.append("-" * len(lines[-1]))
        table = "\n".join(lines)
        print(table, file=file)
        return table


def _can_skip_input_grad(layer):
    """Return True if ``layer.backward`` takes an ``input_grad`` argument."""
    return "input_grad" in inspect.signature(layer.backward).parameters


def _format_bytes(count):
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
