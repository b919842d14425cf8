"""Learning-rate schedules: a function of the step (or epoch) number.

Each schedule is a callable ``schedule(step) -> lr``; ``apply(optimizer, step)``
sets ``optimizer.lr``. Steps count from 0.
"""

import math


class StepLR:
    """lr = base_lr * gamma ** (step // step_size)."""

    def __init__(self, base_lr, step_size, gamma=0.1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size!r}")
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma

    def __call__(self, step):
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR:
    """Cosine decay from base_lr to min_lr over total_steps, after a linear
    warm-up of warmup_steps.

    Warm-up step s (0-based) uses base_lr * (s + 1) / warmup_steps, so the
    first step already moves the weights and the last warm-up step reaches
    base_lr. After it::

        lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * progress)) / 2
    """

    def __init__(self, base_lr, total_steps, warmup_steps=0, min_lr=0.0):
        if total_steps < 1 or not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"CosineLR: need total_steps >= 1 and 0 <= warmup_steps < "
                f"total_steps, got total_steps={total_steps!r}, "
                f"warmup_steps={warmup_steps!r}"
            )
        self.base_lr, self.total_steps = base_lr, total_steps
        self.warmup_steps, self.min_lr = warmup_steps, min_lr

    def __call__(self, step):
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        progress = min(1.0, progress)
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return self.min_lr + (self.base_lr - self.min_lr) * cosine


class WarmupLR:
    """Linear warm-up to base_lr over warmup_steps, then constant.

    Step s (0-based) uses base_lr * min(1, (s + 1) / warmup_steps), as
    PyTorch's LinearLR does with start_factor 1 / warmup_steps and
    total_iters warmup_steps - 1.
    """

    def __init__(self, base_lr, warmup_steps):
        if warmup_steps < 1:
            raise ValueError(
                f"WarmupLR: warmup_steps must be >= 1, got {warmup_steps!r}"
            )
        self.base_lr, self.warmup_steps = base_lr, warmup_steps

    def __call__(self, step):
        return self.base_lr * min(1.0, (step + 1) / self.warmup_steps)


def apply(optimizer, schedule, step):
    """Set ``optimizer.lr`` to ``schedule(step)`` and return it."""
    optimizer.lr = float(schedule(step))
    return optimizer.lr
