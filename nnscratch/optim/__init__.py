"""Optimisers, learning-rate schedules and gradient clipping."""

from nnscratch.optim.optimizers import SGD, Adam, AdamW, Optimizer, clip_grad_norm
from nnscratch.optim.schedules import CosineLR, StepLR, WarmupLR, apply

__all__ = ["SGD", "Adam", "AdamW", "CosineLR", "Optimizer", "StepLR", "WarmupLR",
           "apply", "clip_grad_norm"]
