"""The optimizers a task trains with (hyperparameter `optimizer`, default `task.optimizer`),
each in the two forms that must agree: the real torch.optim optimizer, and its update written
out functionally for the lookahead step, differentiable in the hyperparameters (floats or
tensors). Both take their settings from `settings`, i.e. from the registry's optimizer entries.

With AdamW `momentum` is beta1 (as one-cycle schedules treat it). On the first step both
optimizers ignore it (SGD's buffer is the gradient itself, Adam's bias-corrected first moment
too), except SGD with Nesterov momentum, whose first update is g + momentum * g.
"""
from __future__ import annotations

import math

import torch

from ohgw.hyperparams.registry import optimizer_settings
# what each optimizer takes when no entry sets it (PyTorch's defaults)
DEFAULTS = {"sgd": {"momentum": 0.0, "weight_decay": 0.0, "nesterov": False},
            "adamw": {"momentum": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2}}


def settings(name: str, hp) -> dict:
    """Flat settings (lr, weight_decay, momentum, nesterov | beta2, eps) from values."""
    return {**DEFAULTS[name], **optimizer_settings(name, hp)}


def param_group(name: str, hp) -> dict:
    """The same settings as torch.optim spells them in a param group."""
    s = settings(name, hp)
    if name == "sgd":
        return {"lr": s["lr"], "weight_decay": s["weight_decay"], "momentum": s["momentum"],
                "nesterov": bool(s["nesterov"])}
    return {"lr": s["lr"], "weight_decay": s["weight_decay"], "betas": (s["momentum"], s["beta2"]),
            "eps": s["eps"]}


def make(name: str, params, hp) -> torch.optim.Optimizer:
    optimizer = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[name]
    return optimizer(params, **param_group(name, hp))


def state_by_name(optimizer: torch.optim.Optimizer, module) -> dict:
    """The optimizer's per-parameter state (momentum buffers, moments, step counts) keyed by
    parameter name: what a functional step continues from. Empty before the first step."""
    names = {id(p): n for n, p in module.named_parameters()}
    return {names[id(p)]: dict(s) for p, s in optimizer.state.items() if s}


def step(name: str, params: dict, grads, hp, state: dict | None, lr_factor=1.0) -> dict:
    """The weights after one step of the optimizer `name` (PyTorch's update, as torch.optim
    does it) from `params` with gradients `grads`, written functionally, with the settings
    the real optimizer gets and the LR schedule's current factor `lr_factor`."""
    state = state or {}
    group = settings(name, hp)
    group["lr"] = group["lr"] * lr_factor
    update = _sgd if name == "sgd" else _adamw
    return {n: update(w, g, state.get(n, {}), group) for (n, w), g in zip(params.items(), grads)}


def _sgd(w, g, state, group):
    d = g + group["weight_decay"] * w  # dampening 0
    buffer = state.get("momentum_buffer")
    # torch.optim.SGD: the first buffer is d itself
    buffer = d if buffer is None else group["momentum"] * buffer + d
    d = d + group["momentum"] * buffer if group["nesterov"] else buffer
    return w - group["lr"] * d


def _adamw(w, g, state, group):
    beta1, beta2, lr = group["momentum"], group["beta2"], group["lr"]
    if "step" in state:
        t = float(state["step"]) + 1
        m_hat = (beta1 * state["exp_avg"] + (1 - beta1) * g) / (1 - beta1 ** t)
    else:  # the first bias-corrected moment is the gradient itself: exactly, so d/dbeta1 = 0
        t, m_hat = 1.0, g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    denom = _sqrt_zero_safe(v) / _sqrt(1 - beta2 ** t) + group["eps"]
    return w * (1 - lr * group["weight_decay"]) - lr * m_hat / denom


def _sqrt(x):
    return x.sqrt() if torch.is_tensor(x) else math.sqrt(x)


def _sqrt_zero_safe(v):
    """sqrt(v), with a zero (not NaN) derivative where v == 0 (a weight without gradient)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)
