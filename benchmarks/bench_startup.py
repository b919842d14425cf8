"""Start-up: the first ``nnscratch detect`` call in a fresh process.

The command detects objects in one image of the embedded test split and
writes its PNG and JSON, as a user's first call would. It runs twice in fresh
processes that share a new, empty Numba cache folder (``NUMBA_CACHE_DIR``):
the first compiles every kernel it calls and writes it to the cache ("cold"),
the second loads them from there ("warm"). The time is the wall-clock time of
the whole process, interpreter start included.

The detector is the shipped checkpoint when there is one, otherwise a
randomly initialised detector of the same architecture saved to a temporary
file (its boxes are meaningless, but it runs the same kernels).
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.harness import Measurement, thread_environment

GROUP = "startup"
TARGET_WARM_S = 5.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def detector_weights(folder):
    """Return (path, description) of the detector checkpoint to run."""
    from nnscratch.detector.predict import SHIPPED_WEIGHTS

    if os.path.isfile(SHIPPED_WEIGHTS):
        return SHIPPED_WEIGHTS, "shipped detector weights"

    from nnscratch import init, save_checkpoint
    from nnscratch.detector.dataset import CLASS_NAMES, IMAGE_SIZE
    from nnscratch.detector.model import build_detector
    from nnscratch.zoo import model_spec

    init.manual_seed(0)
    config = {"num_classes": len(CLASS_NAMES), "num_anchors": 5, "width": 16}
    anchors = np.linspace(0.5, 4.0, 10).reshape(5, 2)  # (A, 2), cell units
    path = os.path.join(folder, "detector.npz")
    save_checkpoint(path, build_detector(**config),
                    model=model_spec("detector", **config),
                    detector={"anchors": anchors.tolist(),
                              "class_names": list(CLASS_NAMES),
                              "image_size": IMAGE_SIZE})
    return path, "randomly initialised detector (no shipped weights yet)"


def time_detect(weights, cache_dir, out_dir, threads):
    """Run ``nnscratch detect`` on one image in a fresh process; return seconds.

    ``cache_dir`` is the Numba cache folder, or None for Numba's default.
    """
    command = [sys.executable, "-m", "nnscratch", "detect", "--weights", weights,
               "--limit", "1", "--out", out_dir]
    environment = {**os.environ, **thread_environment(threads)}
    if cache_dir is not None:
        environment["NUMBA_CACHE_DIR"] = cache_dir
    tick = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env=environment, cwd=ROOT, timeout=600)
    seconds = time.perf_counter() - tick
    if result.returncode != 0:
        raise RuntimeError(
            f"nnscratch detect failed with exit status {result.returncode}:\n"
            f"{result.stderr[-2000:]}"
        )
    return seconds


def measurements(quick=False, threads=1):
    """Yield the process time of ``nnscratch detect`` with a cold and a warm cache.

    ``quick`` runs the command once, with Numba's default cache folder, which
    is warm when the kernels ran before from this checkout.
    """
    with tempfile.TemporaryDirectory(prefix="nnscratch-startup-") as folder:
        weights, description = detector_weights(folder)
        out_dir = os.path.join(folder, "detections")
        note = (f"wall time of `python -m nnscratch detect --limit 1` in a fresh "
                f"process, {description}")
        if quick:
            seconds = time_detect(weights, None, out_dir, threads)
            yield Measurement(GROUP, "nnscratch detect, default Numba cache",
                              seconds, None, "s", "", note=note)
            return

        cache_dir = os.path.join(folder, "numba-cache")
        cold = time_detect(weights, cache_dir, out_dir, threads)
        yield Measurement(GROUP, "nnscratch detect, cold Numba cache", cold, None,
                          "s", "", note=note)
        warm = time_detect(weights, cache_dir, out_dir, threads)
        yield Measurement(GROUP, "nnscratch detect, warm Numba cache", warm, None,
                          "s", "", note=note, target_max=TARGET_WARM_S)
