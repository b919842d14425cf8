"""Named model builders, so a checkpoint can rebuild the network it belongs to.

A checkpoint written for a registered model carries
``metadata["model"] = {"name": ..., "config": {...}}``; ``load_model`` calls
the builder with that config and loads the weights into the result, checking
every key and shape.
"""

from nnscratch.checkpoint import CheckpointError, load_checkpoint

_BUILDERS = {}


def register_model(name):
    """Register ``builder(**config) -> Sequential`` under ``name`` (a decorator)."""

    def decorator(builder):
        _BUILDERS[name] = builder
        return builder

    return decorator


def _import_builders():
    # Importing the packages that define models runs their register_model calls.
    import importlib

    for module in ("nnscratch.classifier", "nnscratch.detector.model",
                   "nnscratch.faces", "nnscratch.siamese.model"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def build_model(spec):
    """Build the model described by ``{"name": ..., "config": {...}}``."""
    _import_builders()
    name = spec.get("name")
    if name not in _BUILDERS:
        raise ValueError(
            f"unknown model name {name!r}; known models: {sorted(_BUILDERS)}"
        )
    return _BUILDERS[name](**spec.get("config", {}))


def model_spec(name, **config):
    """Return the metadata entry that ``build_model`` reads back."""
    return {"name": name, "config": config}


def load_model(path):
    """Rebuild a registered model from a checkpoint and load its weights.

    Returns
    -------
    model : Sequential
        In eval mode.
    metadata : dict
    """
    _, metadata = load_checkpoint(path)
    if "model" not in metadata:
        raise CheckpointError(
            f"checkpoint {path!r} does not name its model (no metadata['model']); "
            "build the model yourself and call load_checkpoint(path, model)"
        )
    model = build_model(metadata["model"])
    load_checkpoint(path, model)
    model.eval()
    return model, metadata
