"""Bad input on the command line gets a one-line error and exit status 2."""

import pytest

from nnscratch.checkpoint import CheckpointError
from nnscratch.cli import main


def test_bad_checkpoint_is_one_line_error(tmp_path, capsys):
    weights = tmp_path / "bad.npz"
    weights.write_bytes(b"not an archive")
    status = main(["detect", "--weights", str(weights), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("nnscratch detect: checkpoint")
    assert str(weights) in err
    assert "Traceback" not in err


def test_missing_image_is_one_line_error(tmp_path, capsys):
    missing = tmp_path / "missing.png"
    status = main(["edges", str(missing), "-o", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert status == 2
    assert "image not found" in err
    assert str(missing) in err


def test_verbose_keeps_the_traceback(tmp_path):
    weights = tmp_path / "bad.npz"
    weights.write_bytes(b"not an archive")
    with pytest.raises(CheckpointError):
        main(["-v", "detect", "--weights", str(weights), "--out", str(tmp_path)])


def test_checkpoint_of_another_model_names_it(tmp_path, capsys):
    from nnscratch.faces.detect import WEIGHTS_PATH

    status = main(["detect", "--weights", WEIGHTS_PATH, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2
    assert "not a detector checkpoint (it contains the model 'faces')" in err


def one_line_error(argv, capsys):
    """Run the command, check it failed with status 2 and no traceback, and
    return its standard error."""
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert "Traceback" not in err
    return err


def test_runtime_os_error_one_line(tmp_path, monkeypatch, capsys):
    from nnscratch.cli import dataset

    def export_into_a_file(args):
        raise NotADirectoryError(20, "Not a directory", str(tmp_path / "export"))

    # Parsing already rejects a file given as the folder. A path that becomes
    # a file while the command runs still gets one line.
    monkeypatch.setattr(dataset, "run", export_into_a_file)
    err = one_line_error(["dataset", "export", str(tmp_path / "export")], capsys)
    assert err.startswith("nnscratch dataset export: Not a directory")


def test_detect_limit_beyond_split(tmp_path, capsys):
    from nnscratch.detector.dataset import DEFAULT_SIZES

    limit = DEFAULT_SIZES["test"] + 1
    status = main(["detect", "--limit", str(limit), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert f"--limit {limit} is more than the {DEFAULT_SIZES['test']} images" in err
    assert not (tmp_path / "out").exists()


def test_configure_error_is_one_line(monkeypatch, capsys):
    from nnscratch import runtime

    def fail():
        raise ValueError("Numba could not start its threading layer")

    monkeypatch.setattr(runtime, "configure", fail)
    err = one_line_error(["dataset", "export", "/nonexistent/folder"], capsys)
    assert "could not start its threading layer" in err


@pytest.mark.parametrize("argv, message", [
    (["train", "detector", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    (["train", "detector", "--batch-size", "-2"], "must be at least 1, got -2"),
    (["detect", "--limit", "x"], "expected a whole number, got 'x'"),
    (["detect", "--score-threshold", "2"], "must lie in [0, 1], got 2.0"),
    (["detect", "--iou-threshold", "nan?"], "expected a number, got 'nan?'"),
    (["train", "detector", "--lr", "nan"],
     "--lr: must be a finite number > 0, got nan"),
    (["train", "faces", "--rounds", "0"], "--rounds: must be at least 1, got 0"),
    (["siamese", "evaluate", "--trials", "0"], "--trials: must be at least 1, got 0"),
    (["edges", "-o", "edges.txt"], "'edges.txt' must end in .png or .jpg"),
    (["evaluate", "--json", "result.csv"], "'result.csv' must end in .json"),
    (["train", "classifier", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    (["train", "classifier", "--lr", "0"], "--lr: must be a finite number > 0, got 0"),
    (["dataset", "export", "out", "--seed", "-1"],
     "--seed: must be at least 0, got -1"),
    (["faces", "-o", "f.png", "--min-size", "-4"], "--min-size: must be a finite"),
    (["faces", "-o", "f.png", "--threshold", "2"], "--threshold: must lie in [0, 1]"),
    (["detect", "--image-size", "-5"], "--image-size: must be at least 1, got -5"),
    (["style", "--lr", "-1"], "--lr: must be a finite number > 0, got -1"),
    (["style", "--size", "4"], "--size: must be at least 8, got 4"),
    (["style", "--steps", "0"], "--steps: must be at least 1, got 0"),
    (["siamese", "train", "--lr", "0"], "--lr: must be a finite number > 0, got 0"),
    (["siamese", "evaluate", "--ways", "1"], "--ways: must be at least 2, got 1"),
])
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, kind", [
    (["train", "detector", "--epochs", "1", "--out", "{file}"], "file"),
    (["train", "classifier", "--out", "{file}"], "file"),
    (["detect", "--out", "{file}"], "file"),
    (["train", "faces", "--out", "{folder}"], "folder"),
    (["evaluate", "--json", "{folder}"], "folder"),
    (["faces", "-o", "{folder}"], "folder"),
    (["style", "-o", "{folder}"], "folder"),
    (["evaluate", "--json", "{file}/inside.json"], "under"),
    (["faces", "-o", "{file}/inside.png"], "under"),
    (["dataset", "export", "{file}"], "file"),
    (["siamese", "train", "--out", "{file}"], "file"),
    (["visualize", "weights.npz", "-o", "{file}"], "file"),
    (["dataset", "export", ""], "empty"),
    (["detect", "--out", ""], "empty"),
    (["style", "-o", ""], "empty"),
])
def test_bad_output_paths_fail_at_parsing(argv, kind, tmp_path, capsys):
    # Each command would train or run a network first; these fail at parsing.
    folder = tmp_path / "a_folder"
    folder.mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    argv = [arg.format(file=blocker, folder=folder) for arg in argv]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    expected = {"file": "is a file, not a folder",
                "folder": "is a folder, but a file ending in",
                "under": f"a_file' is a file, so '{blocker}/inside",
                "empty": "missing path (an empty string); give a"}[kind]
    assert expected in err


def test_evaluate_rejects_dataset_with_other_classes(monkeypatch, capsys):
    import dataclasses

    from nnscratch.detector import train as detector_train
    from nnscratch.detector.dataset import embedded_split

    data = embedded_split("test", 2)
    other = dataclasses.replace(data, class_names=("cat", "dog", "a", "b"))
    monkeypatch.setattr(detector_train, "read_split", lambda path, split: other)
    status = main(["evaluate", "--data", "unused"])
    err = capsys.readouterr().err
    assert status == 2
    assert "['cat', 'dog', 'a', 'b'] differ from the classes" in err
    assert "'face'" in err


def test_faces_rejects_a_detector_checkpoint(tmp_path, capsys):
    from nnscratch.detector.predict import SHIPPED_WEIGHTS

    status = main(["faces", "-o", str(tmp_path / "out.png"), "--weights",
                   SHIPPED_WEIGHTS])
    err = capsys.readouterr().err
    assert status == 2
    assert "is not a face checkpoint (it contains the model 'detector')" in err
    assert not (tmp_path / "out.png").exists()


def test_detect_same_names_get_own_outputs(tmp_path, capsys):
    from PIL import Image

    paths = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "same.png"
        Image.new("RGB", (64, 48), (120, 80, 40)).save(path)
        paths.append(str(path))
    out = tmp_path / "found"
    assert main(["detect", *paths, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["same.png", "same_2.png"]


def test_siamese_errors_carry_the_command_name(tmp_path, capsys):
    missing = tmp_path / "missing.png"
    status = main(["siamese", "verify", str(missing), str(missing),
                   "--weights", str(tmp_path / "none.npz")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("nnscratch siamese verify: ")


def test_unreadable_image_leaves_no_folder(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    out = tmp_path / "found"
    status = main(["detect", str(broken), "--out", str(out)])
    assert status == 2
    assert "broken.png" in capsys.readouterr().err
    assert not out.exists()


def test_faces_min_size_above_image(tmp_path, capsys):
    status = main(["faces", "-o", str(tmp_path / "out.png"), "--min-size", "1000"])
    err = capsys.readouterr().err
    assert status == 2
    assert "min_size 1000 is larger than the largest face searched for" in err
    assert "512 pixels" in err


def test_broken_coco_json_names_the_file(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [1, ')
    status = main(["evaluate", "--data", str(broken)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"{broken}: not valid JSON" in err


def test_idx_path_that_is_a_folder(tmp_path, capsys):
    status = main(["train", "classifier", "--idx-images", str(tmp_path),
                   "--idx-labels", str(tmp_path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2
    assert "is a folder, not an IDX file" in err


@pytest.mark.parametrize("argv", [
    ["-v", "detect", "{missing}"],
    ["detect", "{missing}", "-v"],
    ["edges", "{missing}", "--verbose"],
])
def test_verbose_anywhere_raises(argv, tmp_path):
    argv = [arg.format(missing=tmp_path / "missing.png") for arg in argv]
    with pytest.raises(ValueError, match="image not found"):
        main(argv)
