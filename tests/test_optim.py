"""Optimisers, schedules and gradient clipping against PyTorch and hand computations."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import seeds

from nnscratch import Sequential
from nnscratch.layers import Conv2d, Linear
from nnscratch.optim import (
    SGD,
    Adam,
    AdamW,
    CosineLR,
    StepLR,
    WarmupLR,
    apply,
    clip_grad_norm,
)


def make_model(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return Sequential(Conv2d(2, 3, (2, 3), dtype=dtype, rng=rng),
                      Linear(4, 2, dtype=dtype, rng=rng))


def set_gradients(model, rng, skip=()):
    """Give every parameter a random gradient, except those named in ``skip``."""
    grads = {}
    for parameter in model.parameters():
        if parameter.name in skip:
            parameter.layer.grads.pop(parameter.key, None)
            continue
        grad = rng.standard_normal(parameter.data.shape).astype(parameter.data.dtype)
        parameter.layer.grads[parameter.key] = grad
        grads[parameter.name] = grad
    return grads


def run_against_torch(torch, make_ours, make_theirs, seed, steps=5, lrs=None,
                      skip_schedule=None):
    """Take ``steps`` steps with the same gradients in both libraries and
    assert the weights agree after each one."""
    model = make_model(seed)
    ours = make_ours(model.parameters())
    tensors = {p.name: torch.nn.Parameter(torch.tensor(p.data.copy()))
               for p in model.parameters()}
    theirs = make_theirs(list(tensors.values()))
    rng = np.random.default_rng([seed, 3])

    for step in range(steps):
        skip = skip_schedule(step) if skip_schedule else ()
        grads = set_gradients(model, rng, skip)
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name]) if name in grads else None
        if lrs is not None:
            ours.lr = lrs[step]
            for group in theirs.param_groups:
                group["lr"] = lrs[step]
        ours.step()
        theirs.step()
        for parameter in model.parameters():
            np.testing.assert_allclose(
                parameter.data, tensors[parameter.name].detach().numpy(),
                rtol=1e-10, atol=1e-12,
                err_msg=f"{parameter.name} after step {step + 1}",
            )


@given(seed=seeds, momentum=st.sampled_from([0.0, 0.9]), nesterov=st.booleans(),
       weight_decay=st.sampled_from([0.0, 1e-2]))
def test_sgd_matches_torch(torch, seed, momentum, nesterov, weight_decay):
    nesterov = nesterov and momentum > 0
    options = {"lr": 0.1, "momentum": momentum, "nesterov": nesterov,
               "weight_decay": weight_decay}
    run_against_torch(torch, lambda p: SGD(p, **options),
                      lambda p: torch.optim.SGD(p, **options), seed)


@given(seed=seeds, weight_decay=st.sampled_from([0.0, 0.1]),
       betas=st.sampled_from([(0.9, 0.999), (0.5, 0.9)]))
def test_adam_matches_torch(torch, seed, weight_decay, betas):
    options = {"lr": 0.01, "betas": betas, "eps": 1e-8, "weight_decay": weight_decay}
    run_against_torch(torch, lambda p: Adam(p, **options),
                      lambda p: torch.optim.Adam(p, **options), seed)


@given(seed=seeds, weight_decay=st.sampled_from([0.01, 0.3]))
def test_adamw_matches_torch(torch, seed, weight_decay):
    options = {"lr": 0.01, "weight_decay": weight_decay}
    run_against_torch(torch, lambda p: AdamW(p, **options),
                      lambda p: torch.optim.AdamW(p, **options), seed)


def test_optimisers_follow_changing_learning_rate_like_torch(torch):
    lrs = [0.1, 0.05, 0.2, 0.01, 0.1]
    run_against_torch(torch, lambda p: SGD(p, lr=1, momentum=0.9, nesterov=True),
                      lambda p: torch.optim.SGD(p, lr=1, momentum=0.9, nesterov=True),
                      seed=1, lrs=lrs)
    run_against_torch(torch, lambda p: AdamW(p, lr=1),
                      lambda p: torch.optim.AdamW(p, lr=1), seed=2, lrs=lrs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_parameters_without_gradient_are_skipped_like_torch(torch, name):
    # "1.bias" gets no gradient in the first two steps and "0.weight" none in
    # the fourth: PyTorch then leaves them and their state alone, and counts
    # Adam's bias-correction steps per parameter.
    ours_cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[name]
    options = {"lr": 0.05, "weight_decay": 0.1}
    if name == "SGD":
        options["momentum"] = 0.9

    def skip(step):
        if step < 2:
            return {"1.bias"}
        if step == 3:
            return {"0.weight"}
        return set()

    run_against_torch(torch, lambda p: ours_cls(p, **options),
                      lambda p: getattr(torch.optim, name)(p, **options), seed=3,
                      steps=6, skip_schedule=skip)


def test_sgd_step_by_hand():
    model = Sequential(Linear(1, 1, bias=False, dtype=np.float64))
    weight = model[0].params["weight"]
    weight[...] = 1.0
    sgd = SGD(model.parameters(), lr=0.1, momentum=0.5, weight_decay=0.2)
    for grad in (1.0, 2.0):
        model[0].grads["weight"] = np.array([[grad]])
        sgd.step()
    # Step 1: g = 1 + 0.2 * 1 = 1.2, v = 1.2, w = 1 - 0.12 = 0.88.
    # Step 2: g = 2 + 0.2 * 0.88 = 2.176, v = 0.5 * 1.2 + 2.176 = 2.776,
    #         w = 0.88 - 0.2776 = 0.6024.
    np.testing.assert_allclose(weight, [[0.6024]], rtol=1e-14)


def test_adam_first_step_moves_each_weight_by_lr():
    # After one step m_hat = g and v_hat = g^2, so the step is lr * sign(g).
    model = make_model(0)
    adam = Adam(model.parameters(), lr=0.01, eps=0.0)
    before = {p.name: p.data.copy() for p in model.parameters()}
    grads = set_gradients(model, np.random.default_rng(1))
    adam.step()
    for parameter in model.parameters():
        np.testing.assert_allclose(parameter.data - before[parameter.name],
                                   -0.01 * np.sign(grads[parameter.name]),
                                   rtol=1e-12)


def test_optimiser_updates_float32_weights_in_place():
    model = make_model(0, dtype=np.float32)
    arrays = [p.data for p in model.parameters()]
    adam = Adam(model.parameters())
    set_gradients(model, np.random.default_rng(0))
    adam.step()
    for parameter, array in zip(model.parameters(), arrays):
        assert parameter.data is array
        assert parameter.data.dtype == np.float32


def test_optimiser_state_round_trip_continues_identically():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    model_a, model_b = make_model(0), make_model(0)
    adam_a = Adam(model_a.parameters(), lr=0.01)
    for _ in range(3):
        set_gradients(model_a, rng_a)
        adam_a.step()
        set_gradients(model_b, rng_b)
    model_b.load_state_dict(model_a.state_dict())
    adam_b = Adam(model_b.parameters(), lr=0.5)
    adam_b.load_state_dict(*adam_a.state_dict())
    assert adam_b.lr == 0.01
    assert adam_b.step_count == 3
    for _ in range(2):
        set_gradients(model_a, rng_a)
        set_gradients(model_b, rng_b)
        adam_a.step()
        adam_b.step()
    for key, value in model_a.state_dict().items():
        np.testing.assert_array_equal(model_b.state_dict()[key], value, err_msg=key)


def test_adam_state_keeps_per_parameter_step_counts():
    model = make_model(0)
    adam = Adam(model.parameters())
    rng = np.random.default_rng(0)
    set_gradients(model, rng, skip={"1.bias"})
    adam.step()
    set_gradients(model, rng)
    adam.step()
    arrays, info = adam.state_dict()
    assert info["param_steps"] == {"0.weight": 2, "0.bias": 2, "1.weight": 2,
                                   "1.bias": 1}
    restored = Adam(make_model(0).parameters())
    restored.load_state_dict(arrays, info)
    assert restored.param_steps == adam.param_steps


def test_missing_state_slot_is_rejected():
    model = make_model(0)
    adam = Adam(model.parameters())
    set_gradients(model, np.random.default_rng(0))
    adam.step()
    arrays, info = adam.state_dict()
    del arrays["1.bias/exp_avg_sq"]
    fresh = Adam(model.parameters())
    with pytest.raises(ValueError, match=r"'1.bias' is missing slots \['exp_avg_sq'\]"):
        fresh.load_state_dict(arrays, info)
    assert fresh.state == {}
    assert fresh.step_count == 0


def test_optimiser_state_with_unknown_slot_is_rejected():
    model = make_model(0)
    arrays = {"0.bias/momentum": np.zeros(3)}
    with pytest.raises(ValueError, match="unknown slot 'momentum'"):
        SGD(model.parameters(), momentum=0.9).load_state_dict(
            arrays, {"type": "SGD", "lr": 0.1, "step_count": 1})


def test_optimiser_state_for_other_type_is_rejected():
    model = make_model(0)
    arrays, info = SGD(model.parameters(), momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="'SGD', not Adam"):
        Adam(model.parameters()).load_state_dict(arrays, info)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0),
    lambda p: Adam(p, lr=-1),
    lambda p: SGD(p, nesterov=True),
    lambda p: Adam(p, betas=(0.9, 1.0)),
    lambda p: SGD([]),
])
def test_optimiser_rejects_bad_settings(make):
    with pytest.raises(ValueError):
        make(make_model(0).parameters())


@given(seed=seeds, max_norm=st.sampled_from([0.1, 1.0, 100.0]))
def test_clip_grad_norm_matches_torch(torch, seed, max_norm):
    model = make_model(seed)
    grads = set_gradients(model, np.random.default_rng(seed))
    tensors = []
    for name, grad in grads.items():
        tensor = torch.zeros(grad.shape, dtype=torch.float64, requires_grad=True)
        tensor.grad = torch.tensor(grad.copy())
        tensors.append(tensor)

    expected_norm = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))

    total = clip_grad_norm(model.parameters(), max_norm)
    total_t = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    np.testing.assert_allclose(total, total_t.item(), rtol=1e-12)
    np.testing.assert_allclose(total, expected_norm, rtol=1e-12)
    for parameter, tensor in zip(model.parameters(), tensors):
        np.testing.assert_allclose(parameter.grad, tensor.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_by_hand():
    model = Sequential(Linear(2, 1, dtype=np.float64))
    model[0].grads["weight"] = np.array([[3.0, 0.0]])
    model[0].grads["bias"] = np.array([4.0])
    total = clip_grad_norm(model.parameters(), 1.0)
    assert total == 5.0
    np.testing.assert_allclose(model[0].grads["weight"], [[0.6, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(model[0].grads["bias"], [0.8], rtol=1e-6)
    assert clip_grad_norm(model.parameters(), 10.0) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(model[0].grads["bias"], [0.8], rtol=1e-6)


def test_step_lr_by_hand_and_against_torch(torch):
    schedule = StepLR(0.1, step_size=3, gamma=0.5)
    assert [schedule(s) for s in range(7)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    optimizer, scheduler = torch_scheduler(
        torch, 0.1, lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5))
    for step in range(12):
        assert schedule(step) == pytest.approx(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()


def torch_scheduler(torch, lr, make):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    return optimizer, make(optimizer)


def test_cosine_lr_matches_torch_without_warmup(torch):
    schedule = CosineLR(0.1, total_steps=10, min_lr=0.001)
    optimizer, scheduler = torch_scheduler(
        torch, 0.1,
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min=0.001))
    for step in range(11):
        assert schedule(step) == pytest.approx(optimizer.param_groups[0]["lr"],
                                               rel=1e-10)
        optimizer.step()
        scheduler.step()
    assert schedule(25) == pytest.approx(0.001)  # stays at min_lr after the end


def test_cosine_lr_with_warmup_by_hand():
    schedule = CosineLR(1.0, total_steps=10, warmup_steps=2, min_lr=0.0)
    # Warm-up: (step + 1) / 2; cosine over the remaining 8 steps after that.
    assert schedule(0) == pytest.approx(0.5)
    assert schedule(1) == pytest.approx(1.0)
    assert schedule(2) == pytest.approx(1.0)
    assert schedule(4) == pytest.approx((1 + math.cos(math.pi * 2 / 8)) / 2)
    assert schedule(6) == pytest.approx(0.5)
    assert schedule(10) == pytest.approx(0.0)
    values = [schedule(s) for s in range(2, 12)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_warmup_lr_matches_torch_linear_lr(torch):
    schedule = WarmupLR(0.2, warmup_steps=4)
    optimizer, scheduler = torch_scheduler(
        torch, 0.2,
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25,
                                                    total_iters=3))
    for step in range(8):
        assert schedule(step) == pytest.approx(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert schedule(0) == pytest.approx(0.05)
    assert schedule(100) == pytest.approx(0.2)


def test_apply_sets_optimiser_lr():
    sgd = SGD(make_model(0).parameters(), lr=1.0)
    assert apply(sgd, StepLR(0.4, 2), 5) == pytest.approx(0.004)
    assert sgd.lr == pytest.approx(0.004)


@pytest.mark.parametrize("make, fragment", [
    (lambda: StepLR(0.1, 0), "step_size must be >= 1, got 0"),
    (lambda: CosineLR(0.1, 5, warmup_steps=5), "warmup_steps=5"),
    (lambda: CosineLR(0.1, 0), "total_steps=0"),
    (lambda: WarmupLR(0.1, 0), "warmup_steps must be >= 1, got 0"),
])
def test_schedules_reject_bad_settings(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


@pytest.mark.parametrize("make, changed", [
    (lambda p: SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
     {"momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    (lambda p: AdamW(p, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2),
     {"beta1": 0.5, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.2}),
])
def test_load_state_dict_restores_hyperparameters(make, changed):
    # PyTorch's optimiser state dicts restore their parameter groups too.
    source = make(make_model(0).parameters())
    target = type(source)(make_model(0).parameters())
    target.load_state_dict(*source.state_dict())
    for name, value in changed.items():
        assert getattr(target, name) == value
