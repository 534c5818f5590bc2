"""The auxiliary network: task meta-features -> hyperparameters of one search space.

An MLP (inputs standardised with the training tasks' mean and deviation; hidden layers with ReLU)
with one sigmoid output per float or int hyperparameter, its value on the search-space scale
normalised to [0, 1], and one softmax head per choice. Trained full-batch with Adam on (features
of a task -> the best configuration found for it): squared error on the normalised values plus
the cross-entropy of each choice, seeded, on the CPU."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ohgw.hyperparams.space import HyperParameter, SearchSpace


@dataclass(frozen=True)
class NetSettings:
    hidden: tuple = (64, 32)     # units of the hidden layers
    steps: int = 500             # full-batch Adam steps
    lr: float = 0.01
    weight_decay: float = 1e-4
    seed: int = 0                # the initialisation; the same records give the same prediction

    @classmethod
    def from_config(cls, net: dict) -> "NetSettings":
        """The settings of a scheduler config's `net` (a list of hidden widths there)."""
        return cls(**{k: (tuple(v) if k == "hidden" else v) for k, v in net.items()})


def normalised(p: HyperParameter, value) -> float:
    """A float or int value on the search-space scale, mapped to [0, 1] over its domain."""
    return (float(p.to_scale(float(value))) - p.scale_low) / p.range


# Two predictions of the net from the same records are the same prediction when their float and
# int values agree to this share of each range (choices exactly): the net trains in float32, and
# another CPU's kernels (or thread count) round otherwise, which training carries to ~1e-4 of a range.
SAME_PREDICTION = 1e-3


def same_prediction(space: SearchSpace, a: dict, b: dict) -> bool:
    """Whether two configurations are one prediction (SAME_PREDICTION), over `b`'s keys; `a` may hold more
    (a trial's config carries its epochs)."""
    for name, value in b.items():
        if name not in a:
            return False
        p = space[name] if name in space else None
        if p is not None and p.kind in ("float", "int"):
            if abs(normalised(p, a[name]) - normalised(p, value)) > SAME_PREDICTION:
                return False
        elif str(a[name]) != str(value):
            return False
    return True


def denormalised(p: HyperParameter, u: float):
    """The value at u in [0, 1] (clipped) of a float or int domain; ints rounded into it."""
    value = p.from_scale(p.scale_low + min(max(float(u), 0.0), 1.0) * p.range)
    return int(min(max(round(value), p.low), p.high)) if p.kind == "int" else float(p.clip(value))


class AuxNet(nn.Module):
    def __init__(self, space: SearchSpace, n_features: int, hidden=(64, 32)):
        super().__init__()
        self.space = space
        self.numeric = [p for p in space if p.kind != "choice"]
        self.choices = [p for p in space if p.kind == "choice"]
        layers, n_in = [], n_features
        for width in hidden:
            layers += [nn.Linear(n_in, int(width)), nn.ReLU()]
            n_in = int(width)
        self.body = nn.Sequential(*layers)
        self.values = nn.Linear(n_in, len(self.numeric)) if self.numeric else None
        self.heads = nn.ModuleList(nn.Linear(n_in, len(p.choices)) for p in self.choices)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def forward(self, x: torch.Tensor):
        h = self.body((x - self.mean) / self.std)
        values = torch.sigmoid(self.values(h)) if self.values is not None else h[:, :0]
        return values, [head(h) for head in self.heads]

    def targets(self, configs: list[dict]):
        values = torch.tensor([[normalised(p, c[p.name]) for p in self.numeric] for c in configs],
                              dtype=torch.float32).reshape(len(configs), len(self.numeric))
        indices = [torch.tensor([_index(p, c[p.name]) for c in configs]) for p in self.choices]
        return values, indices

    def predict(self, features) -> dict:
        """The configuration the net gives for one task's features."""
        with torch.no_grad():
            values, logits = self(torch.tensor([features], dtype=torch.float32))
        out = {p.name: denormalised(p, u) for p, u in zip(self.numeric, values[0].tolist())}
        out.update({p.name: p.choices[int(l[0].argmax())] for p, l in zip(self.choices, logits)})
        return {name: out[name] for name in self.space.names}


def fit(space: SearchSpace, features: list[list[float]], configs: list[dict],
        settings: NetSettings = NetSettings()) -> tuple[AuxNet, float]:
    """The net trained on (features[i] -> configs[i]); with its final training loss. On one thread:
    the matrices are tiny, and on shared cores a second thread only waits for the first."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(space, features, configs, settings)
    finally:
        torch.set_num_threads(threads)


def _fit(space: SearchSpace, features, configs, settings: NetSettings) -> tuple[AuxNet, float]:
    x = torch.tensor(features, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = AuxNet(space, x.shape[1], settings.hidden)
    net.mean.copy_(x.mean(0))
    net.std.copy_(torch.where(x.std(0, unbiased=False) > 1e-6, x.std(0, unbiased=False), torch.ones(1)))
    values, indices = net.targets(configs)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    for _ in range(int(settings.steps)):
        optimizer.zero_grad()
        loss = _loss(net, x, values, indices)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = float(_loss(net, x, values, indices))
    return net.eval(), final


def _loss(net: AuxNet, x, values, indices):
    predicted, logits = net(x)
    loss = ((predicted - values) ** 2).sum(1).mean()
    for l, target in zip(logits, indices):
        loss = loss + nn.functional.cross_entropy(l, target)
    return loss


def _index(p: HyperParameter, value) -> int:
    for i, c in enumerate(p.choices):
        if c == value or str(c) == str(value):
            return i
    raise ValueError(f"{p.name}={value!r} is none of {list(p.choices)}")


