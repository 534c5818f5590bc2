"""The LR schedule every task trains with, per optimizer step: a linear warm-up over the
first `warmup` x total steps (hyperparameter `warmup`, a fraction; 0 = none), times a cosine
decay over all of the schedule's steps. The schedule spans the task's max_epochs, never the
`epochs` cap that promotion-type schedulers rewrite at each resume.

One function for the real scheduler (LambdaLR) and the lookahead step, where `warmup` may
be a tensor: the first step's factor 1 / (warmup x total) is what gives it a hyper-gradient.
"""
from __future__ import annotations

import math

import torch


def lr_factor(step: int, total_steps: int, warmup=0.0):
    """The LR multiplier before optimizer step `step` (0-based)."""
    cosine = 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    warm_steps = warmup * total_steps
    done = step + 1  # steps taken once this one is: the first step already moves the weights
    if torch.is_tensor(warm_steps):
        ramp = done / torch.clamp(warm_steps, min=done)
    else:
        ramp = done / max(warm_steps, done)
    return ramp * cosine
