"""Dropout whose rate is a hyperparameter (role `network`, live): set after the network is
built (a warm-start may move it), and a tensor during the lookahead.

The hyper-gradient is the pathwise derivative through inverted dropout's 1/(1-p) scaling with
the masks held fixed: y = x * keep / (1 - p), keep = (u >= p) for uniform draws u, so
dy/dp = y / (1 - p). The masks come from the RNG like every other draw of the trial, so the
same RNG state gives the same masks (a central difference on the same draws checks it).
This is the derivative of the realised one-step objective, as for every other hyperparameter;
it leaves out how the expected loss changes through the mask distribution (a score-function
term, unbiased but of high variance on one mini-batch)."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


class HyperDropout(nn.Module):
    def __init__(self, name: str, p: float):
        super().__init__()
        self.hp_name = name  # the hyperparameter that sets its rate
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        keep = torch.rand_like(x) >= self.p  # drawn at every rate, so draws stay paired
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"{self.hp_name}, p={float(self.p):g}"


def live_rates(network: nn.Module) -> frozenset:
    """The names of the dropout rates a network exposes."""
    return frozenset(m.hp_name for m in network.modules() if isinstance(m, HyperDropout))


def set_rates(network: nn.Module, hp) -> None:
    for m in network.modules():
        if isinstance(m, HyperDropout) and m.hp_name in hp:
            m.p = hp[m.hp_name]


@contextmanager
def rates(network: nn.Module, hp):
    """Run a block with the rates in `hp` (tensors in the lookahead), then put the module's
    own back."""
    saved = [(m, m.p) for m in network.modules() if isinstance(m, HyperDropout)]
    set_rates(network, hp)
    try:
        yield
    finally:
        for m, p in saved:
            m.p = p


@contextmanager
def off(network: nn.Module):
    """No dropout in a block (the lookahead's validation pass), other layers unchanged."""
    dropouts = [m for m in network.modules() if isinstance(m, (HyperDropout, nn.Dropout)) and m.training]
    for m in dropouts:
        m.eval()
    try:
        yield
    finally:
        for m in dropouts:
            m.train()
