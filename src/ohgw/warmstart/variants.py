"""The warm-start variants: how a hyper-gradient becomes a new configuration psi'.

Two controls run the same computation as OHGW (so their cost and timing match it) and differ only
in the step: `zero` (the A/A control: no step at all, so the trial trains with x exactly like the
baseline; its difference from the baseline is the noise floor of the harness's own machinery) and
`planted` (a positive control with a known benefit: a step of `fraction` of the way, on the
search-space scale, toward `target`, values found by a full-budget search of the task)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ohgw.errors import ConfigError
from ohgw.hyperparams.space import SearchSpace

DIRECTIONS = ("none", "hypergradient", "random", "zero", "planted")
STEP_MODES = ("raw", "normalized")
# how the hyper-gradient is estimated: autograd (the exact local derivative; a central difference only
# where the lookahead says so), or central_step: the forward-acting hyperparameters (augmentation
# magnitude, dropout rates), whose F jumps wherever a ReLU changes state, by a central difference of
# half-width eta_h x their range, the scale of the hyper-step (measured by python -m
# ohgw.analysis.step_scale: docs/results/simulation/digits/step_scale)
ESTIMATORS = ("autograd", "central_step")
# what a variant is to the study, recorded in replicate.json and read by the analysis: the baseline, the A/A
# floor, the positive control, a control (the random step), or a treatment (the method under test)
ROLES = ("baseline", "floor", "positive_control", "control", "treatment")


@dataclass
class WarmStart:
    name: str
    direction: str = "none"        # none (baseline) | hypergradient (ohgw) | random | zero (A/A) | planted
    steps: int = 1                 # hyper-steps, before each of the first `steps` training steps
    eta_h: float = 1e-3
    step: str = "raw"              # raw: -eta_h*grad | normalized: -eta_h*range*grad/|grad|
    sigma: float | None = None     # random only: fixed-sigma Gaussian step instead of matched norm
    mask: list = field(default_factory=list)
    target: dict = field(default_factory=dict)  # planted only: name -> value to step toward
    fraction: float = 0.5          # planted only: how much of the way to the target
    role: str = "treatment"        # one of ROLES
    estimator: str = "autograd"    # one of ESTIMATORS

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"warmstart.direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.role not in ROLES:
            raise ConfigError(f"warmstart.role must be one of {ROLES}, got {self.role!r}")
        if self.step not in STEP_MODES:
            raise ConfigError(f"warmstart.step must be one of {STEP_MODES}, got {self.step!r}")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"warmstart.estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if not (isinstance(self.eta_h, (int, float)) and self.eta_h > 0):
            raise ConfigError(f"warmstart.eta_h must be > 0, got {self.eta_h}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ConfigError(f"warmstart.steps must be an integer >= 1, got {self.steps}")
        if self.sigma is not None and not self.sigma > 0:
            raise ConfigError(f"warmstart.sigma must be > 0 or null, got {self.sigma}")
        if self.direction == "planted" and not self.target:
            raise ConfigError("warmstart.target: the planted control needs values to step toward "
                              "(task.best_known, from a full-budget search of the task)")
        if not 0 < self.fraction <= 1:
            raise ConfigError(f"warmstart.fraction must be in (0, 1], got {self.fraction}")
        self.mask, self.target = list(self.mask), dict(self.target)

    @property
    def uses_eta(self) -> bool:
        """Does eta_h set this variant's step? (Not for the baseline, the controls, or a
        fixed-sigma random step: their records say eta_h null.)"""
        return self.direction == "hypergradient" or (self.direction == "random" and self.sigma is None)

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
        unknown = sorted(set(self.target) - set(self.targets(space, movable)))
        if unknown:
            raise ConfigError(f"warmstart.target names {unknown}, which the search space does not let a "
                              f"warm-start move (it moves {self.targets(space, movable)})")
        fixed = [n for n in self.mask if n in space and not (space[n].continuous and movable(n))]
        if fixed:
            warnings.warn(f"warmstart.mask: {fixed} are never moved by a warm-start anyway "
                          f"(discrete, or a network argument that only shapes the network)", stacklevel=2)
        if self.active and not self.targets(space, movable):
            warnings.warn(f"warm-start {self.name!r}: the search space has no continuous "
                          f"hyperparameter left to move; running as baseline", stacklevel=2)
            return False
        return True

    def central_steps(self, names, space: SearchSpace, forward_acting=lambda name: False) -> dict:
        """The hyper-gradient's central differences this variant asks for (lookahead.hypergradient's
        `central`): under estimator central_step, name -> half-width eta_h x its range on the
        search-space scale for each forward-acting one among `names` (a normalized step's largest
        extent along it; a raw step's, eta_h x |dF/du|, needs the gradient first, so it gets the
        same); none under autograd."""
        if self.estimator != "central_step":
            return {}
        return {n: self.eta_h * space[n].range for n in names if forward_acting(n)}

    def propose(self, psi: dict, grads: dict, space: SearchSpace, rng: np.random.Generator) -> dict:
        """psi' = clip(psi + delta) on the search-space scale, over the hyperparameters in
        `grads` (dF/du on that scale); every other one unchanged."""
        if self.direction == "zero":
            return dict(psi)
        if self.direction == "planted":
            return self._toward_target(psi, space)
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

    def _toward_target(self, psi: dict, space: SearchSpace) -> dict:
        new = dict(psi)
        for n, goal in self.target.items():
            spec = space[n]
            u, u_goal = spec.to_scale(psi[n]), spec.to_scale(float(goal))
            new[n] = spec.clip(spec.from_scale(u + self.fraction * (u_goal - u)))
        return new


def step_norm(before: dict, after: dict, names) -> float:
    return math.sqrt(sum((after[n] - before[n]) ** 2 for n in names))
