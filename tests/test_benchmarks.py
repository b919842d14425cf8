"""The benchmark suite in quick mode: every case still runs and its check passes.

Nothing here asserts on speed. Each group runs on tiny shapes with one timing
round; without torch the PyTorch comparisons have no reference side and only
nnscratch's side runs.
"""

import importlib.util
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import runner  # noqa: E402 - needs the checkout on sys.path

HAS_TORCH = importlib.util.find_spec("torch") is not None
# Groups whose every case compares with PyTorch.
TORCH_GROUPS = ("gemm", "layers", "train", "memory")


def run_quick(group):
    rows, failures = runner.run_group(group, quick=True, threads=1, repeats=1,
                                      budget_s=0.0, only="", log=lambda text: None)
    return rows, failures


@pytest.mark.parametrize("group", runner.available_groups())
def test_group_runs_and_checks_pass(group):
    rows, failures = run_quick(group)

    assert failures == [], "\n".join(trace for _, trace in failures)
    assert rows, f"group {group} produced no rows"
    for row in rows:
        value = row["ours_median_s"] if row["kind"] == "time" else row["ours"]
        assert value >= 0, row["name"]
        if HAS_TORCH and group in TORCH_GROUPS:
            key = "reference" if row["kind"] == "measurement" else "reference_s"
            assert row.get(key) is not None, f"{row['name']} has no reference"


def test_every_course_conv_shape_is_benchmarked():
    from benchmarks.bench_layers import conv_shapes

    shapes = [(batch, channels, size) for _, batch, channels, size, _, _
              in conv_shapes(quick=False)]

    assert shapes == [(32, 3, 224), (32, 16, 112), (64, 3, 14), (16, 3, 160)]


def test_wrong_gradient_fails_the_check():
    pytest.importorskip("torch")
    from benchmarks.bench_layers import network_case
    from nnscratch.layers import Conv2d
    from nnscratch.model import Sequential
    import numpy as np

    model = Sequential(Conv2d(2, 3, 3))
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5), dtype=np.float32)
    case = network_case("broken conv", model, x, True, None)
    ours = case.ours()
    broken = (ours[0], ours[1] * 1.01, ours[2])

    with pytest.raises(AssertionError, match="input gradient"):
        case.check(broken, case.reference())


def test_main_writes_table_and_json(tmp_path, capsys):
    status = runner.main(["gemm", "--quick", "--threads", "1", "--out",
                          str(tmp_path)])

    assert status == 0
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    record = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert "| threads | group | case |" in table
    assert table in capsys.readouterr().out + "\n"
    assert record["runs"][0]["threads"] == 1
    assert {row["group"] for row in record["runs"][0]["rows"]} == {"gemm"}


def test_unknown_group_is_rejected(capsys):
    status = runner.main(["no_such_group", "--quick", "--threads", "1"])

    assert status == 2
    assert "unknown benchmark group" in capsys.readouterr().err


@pytest.mark.parametrize("out, message", [
    ("", "--out: missing path (an empty string)"),
    ("results_file", "'results_file' is a file, not a folder"),
    ("results_file/below", "is a file, so 'results_file/below' cannot be created"),
])
def test_bad_out_rejected_before_run(tmp_path, monkeypatch, capsys, out,
                                     message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results_file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: pytest.fail("ran"))

    with pytest.raises(SystemExit) as stop:
        runner.main(["gemm", "--quick", "--threads", "1", "--out", out])

    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_restart_keeps_user_thread_settings(monkeypatch):
    calls = []

    def fake_execv(path, arguments):
        calls.append((path, arguments, dict(os.environ)))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", fake_execv)
    monkeypatch.setenv("GOMP_SPINCOUNT", "12345")
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    # Registered with monkeypatch, so the change the restart makes is undone.
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    with pytest.raises(SystemExit):
        runner.restart_with_quiet_threads(["gemm", "--quick"])
    path, arguments, environment = calls[0]
    assert arguments[1:] == ["-m", "benchmarks", "gemm", "--quick"]
    assert environment["GOMP_SPINCOUNT"] == "12345"
    assert environment["OPENBLAS_THREAD_TIMEOUT"] == runner.QUIET_THREADS[
        "OPENBLAS_THREAD_TIMEOUT"]


def test_no_restart_when_quiet_threads_are_set(monkeypatch):
    monkeypatch.setattr(os, "execv", lambda *arguments: pytest.fail("restarted"))
    for name in runner.QUIET_THREADS:
        monkeypatch.setenv(name, "7")
    assert runner.restart_with_quiet_threads(["gemm"]) is None
