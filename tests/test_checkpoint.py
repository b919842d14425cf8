"""Checkpoints: exact round trips, clear errors for bad files, atomic writes."""

import io
import json
import os
import pickle
import stat
import zipfile

import numpy as np
import pytest
from strategies import normal_array

from nnscratch import CheckpointError, Sequential, load_checkpoint, save_checkpoint
from nnscratch import checkpoint as checkpoint_module
from nnscratch.layers import BatchNorm2d, Conv2d, Flatten, Linear, ReLU
from nnscratch.optim import SGD, Adam


def make_model(seed=0, width=3):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(1, width, 3, padding=1, rng=rng), BatchNorm2d(width),
                      ReLU(), Flatten(), Linear(width * 4 * 4, 2, rng=rng))


def train_steps(model, optimizer, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((3, 1, 4, 4)).astype(np.float32)
        out = model.forward(x)
        model.backward(np.ones_like(out))
        optimizer.step()


def write_npz(path, arrays, metadata=None, allow_pickle=False):
    """Write an .npz by hand, with ``metadata`` as the JSON entry if given."""
    if metadata is not None:
        encoded = json.dumps(metadata).encode("utf-8")
        arrays = {**arrays, "__metadata__": np.frombuffer(encoded, dtype=np.uint8)}
    with open(path, "wb") as stream:
        if allow_pickle:
            np.savez(stream, **arrays)
        else:
            # np.savez pickles object arrays silently; refuse that here.
            for value in arrays.values():
                assert value.dtype != object
            np.savez(stream, **arrays)


@pytest.mark.parametrize("optimizer_cls", [SGD, Adam])
def test_round_trip_is_exact_for_model_and_optimiser(tmp_path, optimizer_cls):
    model = make_model()
    options = {"lr": 0.01, "momentum": 0.9} if optimizer_cls is SGD else {"lr": 0.01}
    optimizer = optimizer_cls(model.parameters(), **options)
    train_steps(model, optimizer, 3)
    path = tmp_path / "run.npz"
    returned = save_checkpoint(path, model, optimizer, epoch=3,
                               settings={"batch": 3, "augment": [1, 2]})
    assert returned == os.fspath(path)

    restored = make_model(seed=9)
    restored_optimizer = optimizer_cls(restored.parameters(), lr=1.0)
    state, metadata = load_checkpoint(path, restored, restored_optimizer)

    assert metadata["epoch"] == 3
    assert metadata["settings"] == {"batch": 3, "augment": [1, 2]}
    assert metadata["format_version"] == checkpoint_module.FORMAT_VERSION
    original = model.state_dict()
    assert list(state) == list(original) or set(state) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(state[key], value, err_msg=key)
        loaded = restored.state_dict()[key]
        assert loaded.dtype == value.dtype
        np.testing.assert_array_equal(loaded, value, err_msg=key)
    assert restored_optimizer.lr == optimizer.lr
    assert restored_optimizer.step_count == optimizer.step_count

    # Training on from both must give identical weights.
    train_steps(model, optimizer, 2, seed=1)
    train_steps(restored, restored_optimizer, 2, seed=1)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key], value, err_msg=key)


def test_load_without_model_returns_state_and_optimiser_arrays(tmp_path):
    model = make_model()
    optimizer = Adam(model.parameters())
    train_steps(model, optimizer, 1)
    save_checkpoint(tmp_path / "c.npz", model, optimizer)
    state, metadata = load_checkpoint(tmp_path / "c.npz")
    assert set(state) == set(model.state_dict())
    assert "0.weight/exp_avg" in metadata["optimizer_arrays"]
    assert metadata["optimizer"]["type"] == "Adam"


@pytest.fixture
def saved(tmp_path):
    """Return the path of a valid checkpoint and the model it holds."""
    model = make_model()
    path = tmp_path / "model.npz"
    save_checkpoint(path, model, epoch=1)
    return path, model


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -22, -1])
def test_truncated_file_raises_checkpoint_error(saved, keep):
    path, _ = saved
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated|not an .npz"):
        load_checkpoint(path, make_model())


def test_pickled_object_array_is_never_loaded(tmp_path):
    path = tmp_path / "pickled.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = {"weights": [1, 2]}
    write_npz(path, {"model/0.weight": payload}, {"format_version": 1},
              allow_pickle=True)
    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(path)


class _Exploit:
    def __reduce__(self):
        return (os.mkdir, (_Exploit.target,))


def test_pickle_file_runs_no_code(tmp_path):
    _Exploit.target = os.fspath(tmp_path / "ran")
    path = tmp_path / "exploit.npz"
    path.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not (tmp_path / "ran").exists()


def test_wrong_shapes_name_the_key(saved):
    path, _ = saved
    wider = make_model(width=4)
    with pytest.raises(CheckpointError, match=r"'0.weight' has shape \(3, 1, 3, 3\), "
                                              r"the model expects \(4, 1, 3, 3\)"):
        load_checkpoint(path, wider)


def test_missing_keys_are_named(tmp_path):
    small = Sequential(Conv2d(1, 3, 3, padding=1), Flatten())
    save_checkpoint(tmp_path / "small.npz", small)
    with pytest.raises(CheckpointError, match=r"missing keys \['1.bias', "):
        load_checkpoint(tmp_path / "small.npz", make_model())


def test_failed_load_leaves_model_unchanged(saved):
    path, _ = saved
    model = Sequential(Conv2d(1, 3, 3, padding=1), BatchNorm2d(3), ReLU(), Flatten(),
                       Linear(3 * 4 * 4, 5))
    before = model.state_dict()
    with pytest.raises(CheckpointError):
        load_checkpoint(path, model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_wrong_format_version_is_rejected(saved):
    path, model = saved
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    write_npz(path, arrays, {"format_version": 99})
    with pytest.raises(CheckpointError, match="format version 99; this nnscratch "
                                              "reads version 1"):
        load_checkpoint(path, make_model())


def test_file_without_metadata_is_rejected(saved):
    path, model = saved
    write_npz(path, {f"model/{k}": v for k, v in model.state_dict().items()})
    with pytest.raises(CheckpointError, match="not written by"):
        load_checkpoint(path)


def test_corrupt_metadata_is_rejected(saved):
    path, model = saved
    with open(path, "wb") as stream:
        np.savez(stream, __metadata__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(CheckpointError, match="corrupt metadata"):
        load_checkpoint(path)


def test_metadata_that_is_not_an_object_is_rejected(saved):
    path, _ = saved
    with open(path, "wb") as stream:
        np.savez(stream, __metadata__=np.frombuffer(b"[1, 2]", dtype=np.uint8))
    with pytest.raises(CheckpointError, match="corrupt metadata"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n"])
def test_non_archive_file_is_rejected(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not an .npz"):
        load_checkpoint(path)


def test_single_npy_array_is_rejected(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match="not an .npz"):
        load_checkpoint(path)


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.npz")


def test_unfitting_optimiser_state_is_rejected(tmp_path):
    model = make_model()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_steps(model, optimizer, 1)
    save_checkpoint(tmp_path / "sgd.npz", model, optimizer)
    fresh = make_model()
    with pytest.raises(CheckpointError, match="'SGD', not Adam"):
        load_checkpoint(tmp_path / "sgd.npz", fresh, Adam(fresh.parameters()))


def test_non_json_metadata_is_rejected_before_writing(tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "c.npz", make_model(), when=object())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["format_version", "optimizer_arrays"])
def test_reserved_metadata_keys_are_rejected(tmp_path, key):
    with pytest.raises(ValueError, match=f"'{key}' is reserved"):
        save_checkpoint(tmp_path / "c.npz", make_model(), **{key: 2})


def fail(*args, **kwargs):
    raise OSError("simulated failure")


@pytest.mark.parametrize("target", ["os.replace", "os.fsync"])
def test_interrupted_save_keeps_previous_checkpoint(saved, monkeypatch, target):
    path, model = saved
    before = path.read_bytes()
    module_name, function = target.split(".")
    monkeypatch.setattr(checkpoint_module.os, function, fail)
    with pytest.raises(OSError, match="simulated failure"):
        save_checkpoint(path, make_model(seed=5), epoch=2)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    state, metadata = load_checkpoint(path)
    assert metadata["epoch"] == 1
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(state[key], value)


def test_save_interrupted_during_write_leaves_no_temp_file(saved, monkeypatch):
    path, _ = saved
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter(io.RawIOBase):
        """Write half of the data, then fail like a full disk."""

        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            self.stream.write(bytes(data[: len(data) // 2]))
            raise KeyboardInterrupt

        def fileno(self):
            return self.stream.fileno()

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(checkpoint_module.os, "fdopen",
                        lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, make_model(seed=5))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_save_creates_missing_folder(tmp_path):
    path = tmp_path / "runs" / "a" / "c.npz"
    save_checkpoint(path, make_model())
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "__metadata__" in archive.files


def test_saved_model_gives_same_outputs(tmp_path):
    model = make_model().eval()
    save_checkpoint(tmp_path / "c.npz", model)
    restored = make_model(seed=3).eval()
    load_checkpoint(tmp_path / "c.npz", restored)
    x = normal_array(0, (2, 1, 4, 4), dtype=np.float32)
    np.testing.assert_array_equal(restored.forward(x), model.forward(x))


def test_checkpoint_gets_ordinary_file_permissions(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, make_model())
    reference = tmp_path / "plain"
    reference.write_bytes(b"")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_metadata_may_use_the_key_model(tmp_path):
    spec = {"name": "tiny", "config": {"width": 3}}
    save_checkpoint(tmp_path / "c.npz", make_model(), model=spec)
    _, metadata = load_checkpoint(tmp_path / "c.npz")
    assert metadata["model"] == spec
