"""Checkpoints: arrays in an ``.npz`` (never pickled) plus JSON metadata.

File layout: a single ``.npz`` whose entries are the model's state dict
(``"model/0.weight"``), any extra array groups (``"optimizer/..."``) and one
entry ``"__metadata__"`` holding UTF-8 JSON as a uint8 array. Loading uses
``allow_pickle=False``, so a file can never run code.

Writes are atomic: the file goes to a temporary name in the same folder, is
flushed and fsynced, then renamed over the target, so an interrupted save
leaves the previous checkpoint intact.
"""

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"
# Metadata keys that the format itself writes (or that loading adds).
_RESERVED_KEYS = ("format_version", "optimizer_arrays")
# Every .npz is a zip archive, whose first local file header starts so.
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt or does not fit the model."""


def save_checkpoint(path, model, /, optimizer=None, **metadata):
    """Write ``model``'s state (and an optimiser's) to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.npz`` is the usual suffix.
    model : Sequential or any object with ``state_dict()``
    optimizer : optional
        An optimiser with ``state_dict()``; its arrays are stored too.
    **metadata
        JSON-serialisable values (architecture, epoch, settings). ``path`` and
        ``model`` are positional-only, so ``model=model_spec(...)`` is stored
        as ``metadata["model"]``, which ``nnscratch.zoo.load_model`` reads.

    Returns
    -------
    str
        The path written.
    """
    for key in _RESERVED_KEYS:
        if key in metadata:
            raise ValueError(
                f"save_checkpoint: metadata key {key!r} is reserved for the "
                "checkpoint format; rename it"
            )
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    info = {"format_version": FORMAT_VERSION, **metadata}
    if optimizer is not None:
        opt_arrays, opt_info = optimizer.state_dict()
        arrays.update({f"optimizer/{k}": v for k, v in opt_arrays.items()})
        info["optimizer"] = opt_info
    try:
        encoded = json.dumps(info, sort_keys=True).encode("utf-8")
    except TypeError as error:
        raise TypeError(
            f"checkpoint metadata must be JSON-serialisable: {error}"
        ) from None
    arrays[_METADATA_KEY] = np.frombuffer(encoded, dtype=np.uint8)

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())
    return os.fspath(path)


def write_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` by temp file, fsync and rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        # mkstemp creates the file readable by its owner only; give it the
        # mode an ordinary open() would (0o666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_path, 0o666 & ~umask)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_checkpoint(path, model=None, optimizer=None, strict=True):
    """Read a checkpoint, and load it into ``model`` and ``optimizer`` if given.

    Parameters
    ----------
    path : str or os.PathLike
    model : Sequential, optional
        Receives the weights; keys and shapes are checked.
    optimizer : optional
        Receives its state (step counts, moments).
    strict : bool
        Passed to ``model.load_state_dict``.

    Returns
    -------
    state : dict of str to ndarray
        The model's arrays under PyTorch-style keys.
    metadata : dict
        The JSON metadata, with the optimiser arrays under
        ``metadata["optimizer_arrays"]`` when present.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, pickled, not an nnscratch
        checkpoint, or does not fit ``model``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path!r}")
    with open(path, "rb") as stream:
        magic = stream.read(len(_ZIP_MAGIC))
    # np.load would read a lone .npy array, or try to unpickle anything else.
    if magic != _ZIP_MAGIC:
        raise CheckpointError(
            f"checkpoint {path!r} is not an .npz archive (it starts with "
            f"{magic!r}); is it empty, truncated or another kind of file?"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as error:
        raise CheckpointError(
            f"checkpoint {path!r} is truncated or not an .npz file ({error}); "
            "rewrite it with save_checkpoint"
        ) from None
    except ValueError as error:
        # numpy raises ValueError for object arrays that need pickle, and for
        # a damaged .npy header inside the archive.
        if "pickle" not in str(error):
            raise CheckpointError(
                f"checkpoint {path!r} has a corrupt array entry ({error})"
            ) from None
        raise CheckpointError(
            f"checkpoint {path!r} holds pickled objects, which are never loaded "
            f"because unpickling can run code ({error})"
        ) from None

    if _METADATA_KEY not in contents:
        raise CheckpointError(
            f"{path!r} has no {_METADATA_KEY!r} entry, so it was not written by "
            "nnscratch.save_checkpoint"
        )
    try:
        metadata = json.loads(contents.pop(_METADATA_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(
            f"checkpoint {path!r} has corrupt metadata: {error}"
        ) from None
    if not isinstance(metadata, dict):
        raise CheckpointError(
            f"checkpoint {path!r} has corrupt metadata: expected a JSON object, "
            f"got {type(metadata).__name__}"
        )
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has format version {version!r}; this nnscratch "
            f"reads version {FORMAT_VERSION}"
        )

    state = {key.removeprefix("model/"): value for key, value in contents.items()
             if key.startswith("model/")}
    opt_arrays = {key.removeprefix("optimizer/"): value
                  for key, value in contents.items() if key.startswith("optimizer/")}
    if opt_arrays:
        metadata["optimizer_arrays"] = opt_arrays

    if model is not None:
        try:
            model.load_state_dict(state, strict=strict)
        except (KeyError, ValueError) as error:
            message = error.args[0] if error.args else str(error)
            raise CheckpointError(
                f"checkpoint {path!r} does not fit the model: {message}"
            ) from None
    if optimizer is not None and "optimizer" in metadata:
        try:
            optimizer.load_state_dict(opt_arrays, metadata["optimizer"])
        except (KeyError, ValueError) as error:
            message = error.args[0] if error.args else str(error)
            raise CheckpointError(
                f"checkpoint {path!r} does not fit the optimiser: {message}"
            ) from None
    return state, metadata
