"""The warm-start variants: how a hyper-gradient becomes a new configuration psi'."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ohgw.errors import ConfigError
from ohgw.hyperparams.space import SearchSpace

DIRECTIONS = ("none", "hypergradient", "random")
STEP_MODES = ("raw", "normalized")


@dataclass
class WarmStart:
    name: str
    direction: str = "none"        # none (baseline) | hypergradient (ohgw) | random (control)
    steps: int = 1                 # hyper-steps, before each of the first `steps` training steps
    eta_h: float = 1e-3
    step: str = "raw"              # raw: -eta_h*grad | normalized: -eta_h*range*grad/|grad|
    sigma: float | None = None     # random only: fixed-sigma Gaussian step instead of matched norm
    mask: list = field(default_factory=list)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"warmstart.direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.step not in STEP_MODES:
            raise ConfigError(f"warmstart.step must be one of {STEP_MODES}, got {self.step!r}")
        if not (isinstance(self.eta_h, (int, float)) and self.eta_h > 0):
            raise ConfigError(f"warmstart.eta_h must be > 0, got {self.eta_h}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ConfigError(f"warmstart.steps must be an integer >= 1, got {self.steps}")
        if self.sigma is not None and not self.sigma > 0:
            raise ConfigError(f"warmstart.sigma must be > 0 or null, got {self.sigma}")
        self.mask = list(self.mask)

    @property
    def active(self) -> bool:
        return self.direction != "none"

    def targets(self, space: SearchSpace, movable=lambda name: True) -> list[str]:
        """Hyperparameters this variant moves: continuous, movable by their role (`movable`,
        e.g. Hyperparameters.movable) and not masked."""
        unknown = sorted(set(self.mask) - set(space.names))
        if unknown:
            raise ConfigError(f"warmstart.mask names unknown hyperparameter(s) {unknown}; "
                              f"the search space has {space.names}")
        return [n for n in space.continuous if movable(n) and n not in self.mask]

    def check(self, space: SearchSpace, movable=lambda name: True) -> bool:
        """Validate against the task's space; False (with one warning) when there is
        nothing to move, so the replicate runs as the baseline and records it. A discrete
        (or otherwise unmovable) name in the mask gets a warning: it is never moved anyway."""
        fixed = [n for n in self.mask if n in space and not (space[n].continuous and movable(n))]
        if fixed:
            warnings.warn(f"warmstart.mask: {fixed} are never moved by a warm-start anyway "
                          f"(discrete, or a network argument that only shapes the network)", stacklevel=2)
        if self.active and not self.targets(space, movable):
            warnings.warn(f"warm-start {self.name!r}: the search space has no continuous "
                          f"hyperparameter left to move; running as baseline", stacklevel=2)
            return False
        return True

    def propose(self, psi: dict, grads: dict, space: SearchSpace, rng: np.random.Generator) -> dict:
        """psi' = clip(psi + delta) on the search-space scale, over the hyperparameters in
        `grads` (dF/du on that scale); every other one unchanged."""
        names = list(grads)
        g = np.array([grads[n] for n in names], dtype=float)
        ranges = np.array([space[n].range for n in names])
        if self.step == "raw":
            delta = -self.eta_h * g
        else:
            norm = np.linalg.norm(g)
            delta = -self.eta_h * ranges * g / norm if norm > 0 else np.zeros_like(g)
        if self.direction == "random":
            direction = rng.standard_normal(len(names))
            if self.sigma is not None:
                delta = self.sigma * direction
            else:  # isotropic direction, the norm of the OHGW step it replaces
                delta = direction * (np.linalg.norm(delta) / np.linalg.norm(direction))
        new = dict(psi)
        for n, d in zip(names, delta):
            spec = space[n]
            u = min(max(spec.to_scale(psi[n]) + float(d), spec.scale_low), spec.scale_high)
            new[n] = spec.clip(spec.from_scale(u))  # clip again: 10**log10(x) may leave [low, high]
        return new


def step_norm(before: dict, after: dict, names) -> float:
    return math.sqrt(sum((after[n] - before[n]) ** 2 for n in names))
