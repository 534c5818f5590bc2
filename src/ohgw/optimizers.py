"""The optimizers a task trains with (`task.optimizer`), each in the two forms that must
agree: the real torch.optim optimizer, and its update written out functionally for the
lookahead step, differentiable in the hyperparameters (floats or tensors).

With AdamW the search space's `momentum` is beta1 (as one-cycle schedules treat it); beta2 and
eps are PyTorch's defaults. On the first step both optimizers ignore it: SGD's buffer is the
gradient itself, Adam's bias-corrected first moment too.
"""
from __future__ import annotations

import math

import torch

from ohgw.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
ADAM_BETA2, ADAM_EPS = 0.999, 1e-8


def check(name: str) -> None:
    if name not in OPTIMIZERS:
        raise ConfigError(f"task.optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def settings(name: str, hp) -> dict:
    """Param-group settings from search-space values."""
    lr, weight_decay = 10 ** hp["log_lr"], 10 ** hp["log_wd"]
    if name == "sgd":
        return {"lr": lr, "weight_decay": weight_decay, "momentum": hp["momentum"]}
    return {"lr": lr, "weight_decay": weight_decay, "betas": (hp["momentum"], ADAM_BETA2), "eps": ADAM_EPS}


def make(name: str, params, hp) -> torch.optim.Optimizer:
    optimizer = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[name]
    return optimizer(params, **settings(name, hp))


def state_by_name(optimizer: torch.optim.Optimizer, module) -> dict:
    """The optimizer's per-parameter state (momentum buffers, moments, step counts) keyed by
    parameter name: what a functional step continues from. Empty before the first step."""
    names = {id(p): n for n, p in module.named_parameters()}
    return {names[id(p)]: dict(s) for p, s in optimizer.state.items() if s}


def step(name: str, params: dict, grads, hp, state: dict | None, lr_scale: float) -> dict:
    """The weights after one step of the optimizer `name` (PyTorch's update, as
    torch.optim does it) from `params` with gradients `grads`, written functionally, with the
    same settings the real optimizer gets and the LR schedule's current factor `lr_scale`."""
    state = state or {}
    group = settings(name, hp)
    group["lr"] = group["lr"] * lr_scale
    update = _sgd if name == "sgd" else _adamw
    return {n: update(w, g, state.get(n, {}), group) for (n, w), g in zip(params.items(), grads)}


def _sgd(w, g, state, group):
    d = g + group["weight_decay"] * w  # dampening 0, no Nesterov
    if state.get("momentum_buffer") is not None:
        d = group["momentum"] * state["momentum_buffer"] + d
    return w - group["lr"] * d


def _adamw(w, g, state, group):
    (beta1, beta2), lr = group["betas"], group["lr"]
    if "step" in state:
        t = float(state["step"]) + 1
        m_hat = (beta1 * state["exp_avg"] + (1 - beta1) * g) / (1 - beta1 ** t)
    else:  # the first bias-corrected moment is the gradient itself: exactly, so d/dbeta1 = 0
        t, m_hat = 1.0, g
    v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    denom = _sqrt_zero_safe(v) / math.sqrt(1 - beta2 ** t) + group["eps"]
    return w * (1 - lr * group["weight_decay"]) - lr * m_hat / denom


def _sqrt_zero_safe(v):
    """sqrt(v), with a zero (not NaN) derivative where v == 0 (a weight without gradient)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)
