"""A training loop without autograd: forward, loss, explicit backward, step.

The trainer is generic. It needs three things from the caller:

- a dataset with ``__len__`` and ``batch(indices, rng, train) -> (x, target)``
  (``nnscratch.data.dataset.ArrayDataset`` for arrays in memory, or a
  detector's own dataset that augments images and encodes boxes);
- ``loss_fn(output, target) -> (loss, doutput)``, like the functions in
  ``nnscratch.losses``;
- optionally ``evaluate(model) -> dict of float``, run after each epoch with
  the model in eval mode.

Files in ``out_dir``: ``last.npz`` (written after every epoch and on Ctrl-C),
``best.npz`` (the epoch with the best monitored metric), ``history.json`` (loss
and metrics per epoch) and ``curves.png``.

Reproducibility: the batch order of epoch e is a permutation drawn from
``np.random.default_rng([seed, e])``, and every other random draw of the loop
(augmentation) comes from one generator seeded by ``seed``. Checkpoints store
that generator's state and the library generator's (``nnscratch.init``, which
``Dropout`` uses), so a run resumed after Ctrl-C ends with the same weights as
an uninterrupted one. Seed the initial weights yourself, with
``nnscratch.manual_seed(seed)`` before building the model. Bit-identical
weights also need the same library versions and thread counts, because a
different thread count can change the order of floating-point sums.
"""

import json
import logging
import math
import os
import signal
import threading
import time
import warnings

import numpy as np
from tqdm import tqdm

from nnscratch import init, optim
from nnscratch.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    write_atomic,
)
from nnscratch.model import Sequential

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.npz"
BEST_CHECKPOINT = "best.npz"
HISTORY_FILE = "history.json"
CURVES_FILE = "curves.png"


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training after a checkpoint was written.

    Attributes
    ----------
    checkpoint : str
        Path of the checkpoint to resume from.
    """

    def __init__(self, message, checkpoint):
        super().__init__(message)
        self.checkpoint = checkpoint


class Trainer:
    """Train ``model`` on ``dataset`` with mini-batches and explicit backward.

    Parameters
    ----------
    model : Sequential
    loss_fn : callable
        ``loss_fn(output, target) -> (loss, doutput)`` with a float loss.
    optimizer : nnscratch.optim.Optimizer
        Built on ``model.parameters()``.
    dataset : object
        ``len(dataset)`` samples and ``dataset.batch(indices, rng, train)``.
    evaluate : callable, optional
        ``evaluate(model) -> dict of str to float``, called after each epoch.
    epochs : int
        Total epochs; a resumed run continues up to this number.
    batch_size : int
        The last batch of an epoch is smaller when ``batch_size`` does not
        divide the dataset.
    seed : int
        Seeds the batch order and the trainer's generator.
    out_dir : str or os.PathLike, optional
        Where checkpoints, history and curves go; nothing is written if None.
    model_spec : dict, optional
        ``nnscratch.zoo.model_spec(...)``, stored as ``metadata["model"]`` so
        ``nnscratch.zoo.load_model`` can rebuild the network.
    lr_schedule : callable, optional
        ``lr_schedule(step) -> lr`` for the global step (from 0), applied before
        every optimiser step (``nnscratch.optim.CosineLR`` and others).
    clip_grad_norm : float, optional
        Scale the gradients so their global L2 norm is at most this.
    monitor : str, optional
        A key of ``evaluate``'s result; ``best.npz`` keeps the best epoch.
    monitor_mode : {"max", "min"}
        Whether a larger or a smaller monitored value is better.
    progress : bool
        Show a tqdm bar with the loss and the throughput (samples/s), and one
        summary line per epoch.
    plot : bool
        Write ``curves.png`` after each epoch (needs matplotlib).
    metadata : dict, optional
        Extra JSON-serialisable values stored in every checkpoint.
    """

    def __init__(self, model, loss_fn, optimizer, dataset, *, evaluate=None,
                 epochs=10, batch_size=64, seed=0, out_dir=None, model_spec=None,
                 lr_schedule=None, clip_grad_norm=None, monitor=None,
                 monitor_mode="max", progress=True, plot=True, metadata=None):
        for name, value in (("loss_fn", loss_fn), ("evaluate", evaluate),
                            ("lr_schedule", lr_schedule)):
            if value is not None and not callable(value):
                raise TypeError(f"Trainer: {name} must be callable, got {value!r}")
        if not hasattr(dataset, "batch") or not hasattr(dataset, "__len__"):
            raise TypeError(
                "Trainer: dataset must have __len__ and batch(indices, rng, train), "
                f"got {type(dataset).__name__}; wrap arrays in "
                "nnscratch.data.dataset.ArrayDataset"
            )
        if len(dataset) == 0:
            raise ValueError("Trainer: the dataset is empty")
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"Trainer: {name} must be a positive int, got {value!r}"
                )
        if monitor_mode not in ("max", "min"):
            raise ValueError(
                f"Trainer: monitor_mode must be 'max' or 'min', got {monitor_mode!r}"
            )
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(
                f"Trainer: clip_grad_norm must be positive or None, got "
                f"{clip_grad_norm!r}"
            )
        if monitor is not None and evaluate is None:
            raise ValueError(
                f"Trainer: monitor={monitor!r} needs an evaluate function to compute it"
            )

        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.dataset, self.evaluate = dataset, evaluate
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.seed = int(seed)
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.model_spec, self.lr_schedule = model_spec, lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.monitor, self.monitor_mode = monitor, monitor_mode
        self.progress, self.plot = progress, plot
        self.metadata = dict(metadata or {})

        self.rng = np.random.default_rng(self.seed)
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0  # batches done in the current epoch
        self.global_step = 0
        self.history = []
        self.best = None
        self.best_epoch = None
        self._running = _new_running_totals()
        self._boundary_states = self._random_states()
        self._stop_requested = False
        self._forced_stop = False

    # ------------------------------------------------------------------ loop

    @property
    def batches_per_epoch(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def fit(self, resume=None):
        """Train until ``epochs`` epochs are complete.

        Parameters
        ----------
        resume : str or os.PathLike, optional
            A checkpoint written by this trainer (``out_dir/last.npz``); weights,
            optimiser state, epoch, position in the epoch and random states are
            restored from it.

        Returns
        -------
        list of dict
            The history: one record per epoch with ``epoch``, ``train_loss``
            (mean over the epoch's batches), ``lr`` (of the last step),
            ``seconds`` and ``samples_per_s`` (training steps only, without
            evaluation), ``grad_norm`` (mean before clipping, when clipping)
            and the evaluation metrics.

        Raises
        ------
        NonFiniteLossError
            If a loss is NaN or infinite; the message names epoch and step.
        TrainingInterrupted
            On Ctrl-C, after the current step completes and ``out_dir/last.npz``
            is written. A second Ctrl-C stops at once and writes nothing, so
            the last checkpoint is then the previous epoch's.
        CheckpointError
            If ``resume`` was written for a different architecture.
        """
        if resume is not None:
            self.load(resume)
            if self.epoch >= self.epochs:
                raise ValueError(
                    f"Trainer: the checkpoint {os.fspath(resume)} has already "
                    f"completed {self.epoch} epochs and epochs={self.epochs}; give "
                    f"more than {self.epoch} epochs to continue training"
                )
        self.model.train()
        with _DeferredInterrupt(self):
            try:
                while self.epoch < self.epochs:
                    if self._stop_requested:
                        raise KeyboardInterrupt
                    self._run_epoch()
            except KeyboardInterrupt:
                if self._forced_stop:
                    raise TrainingInterrupted(
                        "training stopped at once by a second Ctrl-C; no checkpoint "
                        "was written for the current step", None) from None
                raise self._interrupted() from None
        return self.history

    def _run_epoch(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(
            len(self.dataset))
        total = self.batches_per_epoch
        bar = tqdm(total=total, initial=self.step_in_epoch, unit="batch",
                   desc=f"epoch {self.epoch + 1}/{self.epochs}",
                   disable=not self.progress, leave=False, dynamic_ncols=True)
        try:
            while self.step_in_epoch < total:
                start = self.step_in_epoch * self.batch_size
                indices = order[start:start + self.batch_size]
                began = time.perf_counter()
                loss = self._train_step(indices)
                running = self._running
                running["seconds"] += time.perf_counter() - began
                running["loss_sum"] += loss * len(indices)
                running["samples"] += len(indices)
                self.step_in_epoch += 1
                self.global_step += 1
                self._boundary_states = self._random_states()
                bar.update(1)
                bar.set_postfix_str(
                    f"loss {running['loss_sum'] / running['samples']:.4f}, "
                    f"{running['samples'] / max(running['seconds'], 1e-9):.0f} "
                    "samples/s", refresh=False)
                if self._stop_requested:
                    raise KeyboardInterrupt
        finally:
            bar.close()
        self._end_epoch()

    def _train_step(self, indices):
        x, target = self.dataset.batch(indices, self.rng, True)
        output = self.model.forward(x)
        loss, doutput = self.loss_fn(output, target)
        loss = float(loss)
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss} at epoch {self.epoch + 1}, step "
                f"{self.step_in_epoch + 1} of {self.batches_per_epoch} (global step "
                f"{self.global_step + 1}); lower the learning rate or set "
                "clip_grad_norm, then restart or resume from the last checkpoint"
            )
        if isinstance(self.model, Sequential):
            # Training needs no gradient with respect to the data.
            self.model.backward(doutput, input_grad=False)
        else:
            self.model.backward(doutput)
        if self.clip_grad_norm is not None:
            norm = optim.clip_grad_norm(self.optimizer.parameters, self.clip_grad_norm)
            self._running["grad_norm_sum"] += norm
        if self.lr_schedule is not None:
            optim.apply(self.optimizer, self.lr_schedule, self.global_step)
        self.optimizer.step()
        return loss

    def _end_epoch(self):
        running = self._running
        record = {
            "epoch": self.epoch + 1,
            "train_loss": running["loss_sum"] / max(running["samples"], 1),
            "lr": self.optimizer.lr,
            "seconds": running["seconds"],
            "samples_per_s": running["samples"] / max(running["seconds"], 1e-9),
        }
        if self.clip_grad_norm is not None:
            record["grad_norm"] = running["grad_norm_sum"] / self.batches_per_epoch
        if self.evaluate is not None:
            record.update(self._evaluate())

        improved = False
        if self.monitor is not None and self._is_improvement(record[self.monitor]):
            self.best, self.best_epoch = record[self.monitor], self.epoch + 1
            improved = True

        self.history.append(record)
        self.epoch += 1
        self.step_in_epoch = 0
        self._running = _new_running_totals()
        self._boundary_states = self._random_states()
        self._write_outputs(best=improved)
        self._report(record, improved)

    def _is_improvement(self, value):
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.monitor_mode == "max" else value < self.best

    def _evaluate(self):
        self.model.eval()
        try:
            metrics = self.evaluate(self.model)
        finally:
            self.model.train()
        if not isinstance(metrics, dict):
            raise TypeError(
                f"evaluate must return a dict of metrics, got {type(metrics).__name__}"
            )
        metrics = {key: float(value) for key, value in metrics.items()}
        if self.monitor is not None and self.monitor not in metrics:
            raise ValueError(
                f"Trainer: monitor {self.monitor!r} is not among the metrics that "
                f"evaluate returned: {sorted(metrics)}"
            )
        return metrics

    def _report(self, record, improved):
        parts = [f"epoch {record['epoch']}/{self.epochs}",
                 f"train_loss {record['train_loss']:.4f}"]
        parts += [f"{key} {value:.4f}" for key, value in record.items()
                  if key not in ("epoch", "train_loss", "lr", "seconds",
                                 "samples_per_s", "grad_norm")]
        parts.append(f"{record['seconds']:.1f} s")
        parts.append(f"{record['samples_per_s']:.0f} samples/s")
        line = ", ".join(parts) + (" (best)" if improved else "")
        logger.info(line)
        if self.progress:
            tqdm.write(line)

    # ----------------------------------------------------------- checkpoints

    def _random_states(self):
        return {"rng": self.rng.bit_generator.state, "library": init.get_rng_state()}

    def _checkpoint_metadata(self):
        metadata = dict(self.metadata)
        if self.model_spec is not None:
            metadata["model"] = self.model_spec
        metadata["architecture"] = repr(self.model)
        metadata["history"] = self.history
        metadata["trainer"] = {
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "seed": self.seed,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "dataset_size": len(self.dataset),
            "clip_grad_norm": self.clip_grad_norm,
            "monitor": self.monitor,
            "monitor_mode": self.monitor_mode,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "running": self._running,
            "random_states": self._boundary_states,
        }
        return metadata

    def save(self, path):
        """Write the model, optimiser and loop state to ``path``; return the path."""
        return save_checkpoint(path, self.model, self.optimizer,
                               **self._checkpoint_metadata())

    def _write_outputs(self, best=False):
        if self.out_dir is None:
            return
        self.save(os.path.join(self.out_dir, LAST_CHECKPOINT))
        if best:
            self.save(os.path.join(self.out_dir, BEST_CHECKPOINT))
        summary = {"monitor": self.monitor, "monitor_mode": self.monitor_mode,
                   "best": self.best, "best_epoch": self.best_epoch,
                   "history": self.history}
        write_atomic(os.path.join(self.out_dir, HISTORY_FILE),
                     json.dumps(summary, indent=2).encode("utf-8"))
        if self.plot and self.history:
            self._plot_curves()

    def _plot_curves(self):
        from nnscratch.plots import plot_history

        try:
            plot_history(self.history, os.path.join(self.out_dir, CURVES_FILE))
        except ImportError as error:
            warnings.warn(f"not writing {CURVES_FILE}: {error}; install matplotlib "
                          "to get training curves", stacklevel=2)
            self.plot = False

    def _interrupted(self):
        # Roll the generators back to the end of the last completed step, the
        # point whose weights the checkpoint contains.
        self.rng.bit_generator.state = self._boundary_states["rng"]
        init.set_rng_state(self._boundary_states["library"])
        where = (f"epoch {self.epoch + 1} after step {self.step_in_epoch} of "
                 f"{self.batches_per_epoch}")
        if self.out_dir is None:
            return TrainingInterrupted(
                f"training interrupted at {where}; no out_dir, so no checkpoint", None)
        path = os.path.join(self.out_dir, LAST_CHECKPOINT)
        self.save(path)
        logger.info("training interrupted at %s; checkpoint written to %s", where, path)
        return TrainingInterrupted(
            f"training interrupted at {where}; checkpoint written to {path}", path)

    def load(self, path):
        """Restore a checkpoint written by ``save``, checking the architecture.

        Raises
        ------
        CheckpointError
            If the file is unreadable, was not written by a Trainer, or contains a
            different architecture.
        ValueError
            If resuming mid-epoch with a different dataset size or batch size,
            which would change the batch order.
        """
        path = os.fspath(path)
        _, metadata = load_checkpoint(path)
        state = metadata.get("trainer")
        if state is None:
            raise CheckpointError(
                f"checkpoint {path!r} has no trainer state, so it was not written by "
                "Trainer; load its weights with load_checkpoint(path, model)"
            )
        _check_same_architecture(path, metadata, self.model, self.model_spec)
        if state["dataset_size"] != len(self.dataset) or (
                state["step_in_epoch"] and state["batch_size"] != self.batch_size):
            raise ValueError(
                f"checkpoint {path!r} was trained on {state['dataset_size']} samples "
                f"in batches of {state['batch_size']}; this trainer has "
                f"{len(self.dataset)} samples in batches of {self.batch_size}. "
                "Resume with the same data and batch size"
            )
        if state["seed"] != self.seed:
            logger.warning("resuming with the checkpoint's seed %d instead of %d",
                           state["seed"], self.seed)
        if "optimizer" not in metadata:
            raise CheckpointError(
                f"checkpoint {path!r} has no optimiser state to resume from"
            )
        load_checkpoint(path, self.model, self.optimizer)

        self.seed = state["seed"]
        self.epoch, self.step_in_epoch = state["epoch"], state["step_in_epoch"]
        self.global_step = state["global_step"]
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self._running = dict(state["running"])
        self.history = list(metadata.get("history", []))
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["random_states"]["rng"]
        init.set_rng_state(state["random_states"]["library"])
        self._boundary_states = self._random_states()
        logger.info("resumed from %s at epoch %d, step %d", path, self.epoch + 1,
                    self.step_in_epoch)


def _check_same_architecture(path, metadata, model, model_spec):
    """Raise CheckpointError unless the checkpoint was written for this model."""
    saved_spec = metadata.get("model")
    # Compare as JSON reads it back, where tuples have become lists.
    current_spec = json.loads(json.dumps(model_spec))
    if None not in (current_spec, saved_spec) and saved_spec != current_spec:
        raise CheckpointError(
            f"checkpoint {path!r} is for model {saved_spec}, but this run builds "
            f"{model_spec}; resume with the same options or train from scratch"
        )
    saved = metadata.get("architecture")
    current = repr(model)
    if saved is not None and saved != current:
        saved_lines, current_lines = saved.splitlines(), current.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(saved_lines, current_lines))
                      if a != b), min(len(saved_lines), len(current_lines)))
        raise CheckpointError(
            f"checkpoint {path!r} was written for a different architecture: line "
            f"{first + 1} is {_line_or_nothing(saved_lines, first)!r} there and "
            f"{_line_or_nothing(current_lines, first)!r} in this model; resume with "
            "the same options or train from scratch"
        )


def _line_or_nothing(lines, index):
    return lines[index].strip() if index < len(lines) else "(nothing)"


def _new_running_totals():
    """Return the sums that make up an epoch's record, all zero."""
    return {"loss_sum": 0.0, "samples": 0, "seconds": 0.0, "grad_norm_sum": 0.0}


class _DeferredInterrupt:
    """Turn Ctrl-C into a stop request that the loop honours between steps.

    A step interrupted halfway could leave some parameters updated and others
    not. While active, the first SIGINT only sets ``trainer._stop_requested``;
    a second one raises KeyboardInterrupt at once. Outside the main thread,
    signals cannot be caught, so nothing changes.
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self.previous = None

    def _handle(self, signum, frame):
        if self.trainer._stop_requested:
            # The step in progress may be half applied, so it must not be saved.
            self.trainer._forced_stop = True
            raise KeyboardInterrupt
        self.trainer._stop_requested = True

    def __enter__(self):
        self.trainer._stop_requested = False
        self.trainer._forced_stop = False
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
