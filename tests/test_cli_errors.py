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


def test_file_as_folder_is_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "export"
    blocker.write_text("a file, not a folder")
    status = main(["dataset", "export", str(blocker)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("nnscratch dataset export: Not a directory")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["train", "detector", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    (["train", "detector", "--batch-size", "-2"], "must be at least 1, got -2"),
    (["detect", "--limit", "x"], "expected a whole number, got 'x'"),
    (["detect", "--score-threshold", "2"], "must lie in [0, 1], got 2.0"),
    (["detect", "--iou-threshold", "nan?"], "expected a number, got 'nan?'"),
])
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_siamese_errors_carry_the_command_name(tmp_path, capsys):
    missing = tmp_path / "missing.png"
    status = main(["siamese", "verify", str(missing), str(missing),
                   "--weights", str(tmp_path / "none.npz")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("nnscratch siamese verify: ")


def test_unreadable_first_image_leaves_no_output_folder(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    out = tmp_path / "found"
    status = main(["detect", str(broken), "--out", str(out)])
    assert status == 2
    assert "broken.png" in capsys.readouterr().err
    assert not out.exists()
