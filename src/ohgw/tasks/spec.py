"""A task's settings checked without building it: light to import (no torch, no Lightning), so
that run.py refuses bad input before the heavy imports, and one definition that Task shares."""
from __future__ import annotations

from ohgw.errors import ConfigError
from ohgw.hyperparams.registry import OPTIMIZERS, ROLES, Hyperparameters, check_optimizer
from ohgw.hyperparams.space import SearchSpace


def check_task(name: str, tau: float, max_epochs: int, batch_size: int, optimizer: str, search_space: dict,
               roles=ROLES, network: dict | None = None, fixed: dict | None = None,
               live_rates=(), label_noise: float = 0.0, metric: str = "val_acc",
               mode: str = "max") -> tuple[SearchSpace, Hyperparameters]:
    """(the search space, what the task accepts); ConfigError on the first bad setting."""
    check_target(metric, mode, tau)
    if not 0.0 <= float(label_noise) < 1.0:
        raise ConfigError(f"task.label_noise must be in [0, 1), got {label_noise}")
    if int(max_epochs) < 1:
        raise ConfigError(f"task.max_epochs must be >= 1, got {max_epochs}")
    check_optimizer(optimizer)
    space = SearchSpace.from_config(search_space)
    fixed = dict(fixed or {})
    accepts = Hyperparameters(name, tuple(roles), dict(network or {}), frozenset(live_rates),
                              {"batch_size": int(batch_size), "optimizer": optimizer})
    accepts.check(space.names, "search_space")
    accepts.check(fixed, "fixed")
    both = sorted(set(space.names) & set(fixed))
    if both:
        raise ConfigError(f"task {name}: {both} both searched and fixed; keep one")
    if "optimizer" in space and space["optimizer"].kind == "choice":
        for kind in space["optimizer"].choices:
            check_optimizer(kind)
    return space, accepts


def check_target(metric: str, mode: str, tau: float) -> None:
    """tau must be a value the metric can take: an accuracy in [0, 1], a perplexity above 1."""
    if mode not in ("max", "min"):
        raise ConfigError(f"task.mode must be max or min, got {mode!r}")
    if metric.endswith("_ppl"):
        if mode != "min" or not float(tau) > 1.0:
            raise ConfigError(f"task.tau={tau} with task.metric={metric}: a perplexity target is above 1 and "
                              f"minimised (mode min)")
    elif not 0.0 <= float(tau) <= 1.0:
        raise ConfigError(f"task.tau must be a score in [0, 1], got {tau}")


__all__ = ["OPTIMIZERS", "check_target", "check_task"]
