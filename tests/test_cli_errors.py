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
