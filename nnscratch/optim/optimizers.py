"""Optimisers that update ``Parameter`` arrays in place from their gradients.

Each follows PyTorch's update rule exactly (same hyper-parameter names and
defaults), so a step can be checked against ``torch.optim`` to float rounding.
"""

import numpy as np


class Optimizer:
    """Base class: holds parameters, a learning rate and per-parameter state.

    ``state[name][slot]`` is one array per parameter and slot; the slots a
    subclass uses are listed in ``state_slots``. ``state_dict`` also saves the
    attributes named in ``hyperparameters``, and ``load_state_dict`` restores
    them, as PyTorch restores its parameter groups.
    """

    state_slots = ()
    hyperparameters = ()

    def __init__(self, parameters, lr):
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.lr = float(lr)
        self.step_count = 0
        self.state = {}

    def _gradients(self):
        """Yield ``(parameter, gradient)`` for parameters that have a gradient."""
        for parameter in self.parameters:
            grad = parameter.grad
            if grad is not None:
                yield parameter, grad

    def zero_grad(self):
        """Drop the gradients of every parameter."""
        for parameter in self.parameters:
            parameter.layer.grads.pop(parameter.key, None)

    def step(self):
        raise NotImplementedError

    def state_dict(self):
        """Return ``(arrays, info)``: state arrays by ``"<param>/<slot>"`` and a
        JSON-serialisable dict of scalars."""
        arrays = {f"{name}/{slot}": value
                  for name, slots in self.state.items()
                  for slot, value in slots.items()}
        info = {"type": type(self).__name__, "lr": self.lr,
                "step_count": self.step_count,
                "hyperparameters": {name: getattr(self, name)
                                    for name in self.hyperparameters}}
        return arrays, info

    def load_state_dict(self, arrays, info):
        """Restore the state written by ``state_dict``."""
        if info.get("type") != type(self).__name__:
            raise ValueError(
                f"optimiser state is for {info.get('type')!r}, not "
                f"{type(self).__name__}"
            )

        names = {p.name: p for p in self.parameters}
        # Build the new state aside, so a bad entry leaves the old one in place.
        state = {}
        for key, value in arrays.items():
            name, slot = key.rsplit("/", 1)
            if name not in names:
                raise ValueError(f"optimiser state names unknown parameter {name!r}")
            if slot not in self.state_slots:
                raise ValueError(
                    f"optimiser state {key!r} has unknown slot {slot!r}; "
                    f"{type(self).__name__} uses {list(self.state_slots)}"
                )
            weight = names[name].data
            if value.shape != weight.shape:
                raise ValueError(
                    f"optimiser state {key!r} has shape {value.shape}, the "
                    f"parameter has {weight.shape}"
                )
            state.setdefault(name, {})[slot] = value.astype(weight.dtype)

        for name, slots in state.items():
            missing = sorted(set(self.state_slots) - set(slots))
            if missing:
                raise ValueError(
                    f"optimiser state for {name!r} is missing slots {missing}"
                )

        saved = info.get("hyperparameters", {})
        unknown = sorted(set(saved) - set(self.hyperparameters))
        if unknown:
            raise ValueError(
                f"optimiser state has unknown hyper-parameters {unknown} for "
                f"{type(self).__name__}"
            )

        self.state = state
        self.lr = float(info["lr"])
        self.step_count = int(info["step_count"])
        for name, value in saved.items():
            setattr(self, name, type(getattr(self, name))(value))


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, Nesterov and weight decay.

    Update (PyTorch's form)::

        g = grad + weight_decay * w
        v = momentum * v + g                    (v = g on the first step)
        step = g + momentum * v if nesterov else v
        w = w - lr * step
    """

    state_slots = ("velocity",)
    hyperparameters = ("momentum", "nesterov", "weight_decay")

    def __init__(self, parameters, lr=0.01, momentum=0.0, nesterov=False,
                 weight_decay=0.0):
        super().__init__(parameters, lr)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def step(self):
        self.step_count += 1
        for parameter, grad in self._gradients():
            w = parameter.data
            g = grad + self.weight_decay * w if self.weight_decay else grad
            if self.momentum:
                slots = self.state.setdefault(parameter.name, {})
                if "velocity" not in slots:
                    slots["velocity"] = g.copy()
                else:
                    slots["velocity"] *= self.momentum
                    slots["velocity"] += g
                velocity = slots["velocity"]
                g = g + self.momentum * velocity if self.nesterov else velocity
            w -= (self.lr * g).astype(w.dtype, copy=False)


class Adam(Optimizer):
    """Adam, and AdamW when ``decoupled_weight_decay`` is set.

    Update at step t::

        g = grad (+ weight_decay * w for Adam's L2 form)
        m = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        w = w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    AdamW instead shrinks the weight directly, w = w (1 - lr * weight_decay),
    before the update. As in PyTorch, t counts the steps at which this
    parameter had a gradient (``param_steps``), not the optimiser's steps, so
    a parameter that joins training late gets the full bias correction.

    References
    ----------
    Kingma and Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    Loshchilov and Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
    """

    decoupled_weight_decay = False
    state_slots = ("exp_avg", "exp_avg_sq")
    hyperparameters = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(self, parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0):
        super().__init__(parameters, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(
                f"{type(self).__name__}: betas must be in [0, 1), got {betas!r}"
            )
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.param_steps = {}

    def state_dict(self):
        arrays, info = super().state_dict()
        info["param_steps"] = dict(self.param_steps)
        return arrays, info

    def load_state_dict(self, arrays, info):
        super().load_state_dict(arrays, info)
        # State written without per-parameter counts: every parameter with
        # moments is taken to have stepped each time.
        default = {name: self.step_count for name in self.state}
        self.param_steps = {name: int(t) for name, t in
                            info.get("param_steps", default).items()}

    def step(self):
        self.step_count += 1
        for parameter, grad in self._gradients():
            t = self.param_steps.get(parameter.name, 0) + 1
            self.param_steps[parameter.name] = t
            correction1 = 1 - self.beta1**t
            correction2 = 1 - self.beta2**t
            w = parameter.data
            if self.weight_decay and self.decoupled_weight_decay:
                w *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                grad = grad + self.weight_decay * w

            slots = self.state.setdefault(parameter.name, {})
            if "exp_avg" not in slots:
                slots["exp_avg"] = np.zeros_like(w)
                slots["exp_avg_sq"] = np.zeros_like(w)
            m, v = slots["exp_avg"], slots["exp_avg_sq"]
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * grad * grad

            denominator = np.sqrt(v / correction2) + self.eps
            w -= (self.lr / correction1 * m / denominator).astype(w.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01, as in PyTorch)."""

    decoupled_weight_decay = True

    def __init__(self, parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.01):
        super().__init__(parameters, lr, betas, eps, weight_decay)


def clip_grad_norm(parameters, max_norm):
    """Scale all gradients so their global L2 norm is at most ``max_norm``.

    Returns
    -------
    float
        The global norm before clipping.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    total = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))
    if total > max_norm > 0:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
