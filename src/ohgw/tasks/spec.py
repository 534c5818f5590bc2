"""A task's settings checked without building it: light to import (no torch, no Lightning), so
that run.py refuses bad input before the heavy imports, and one definition that Task shares."""
from __future__ import annotations

from collections.abc import Sequence

from ohgw.errors import ConfigError
from ohgw.hyperparams.registry import OPTIMIZERS, ROLES, Hyperparameters, check_optimizer
from ohgw.hyperparams.space import SearchSpace


def check_task(name: str, tau: float, max_epochs: int, batch_size: int, optimizer: str, search_space: dict,
               roles=ROLES, network: dict | None = None, fixed: dict | None = None,
               live_rates=(), label_noise: float = 0.0, metric: str = "val_acc",
               mode: str = "max", class_subset=None) -> tuple[SearchSpace, Hyperparameters]:
    """(the search space, what the task accepts); ConfigError on the first bad setting."""
    check_target(metric, mode, tau)
    if not 0.0 <= float(label_noise) < 1.0:
        raise ConfigError(f"task.label_noise must be in [0, 1), got {label_noise}")
    check_class_subset(class_subset)
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


def check_class_subset(class_subset) -> None:
    """null, or at least two distinct class labels (integers >= 0)."""
    if class_subset is None:
        return
    labels = list(class_subset) if isinstance(class_subset, Sequence) and not isinstance(class_subset, str) else None
    if (labels is None or len(labels) < 2 or len(set(labels)) != len(labels)
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in labels)):
        raise ConfigError(f"task.class_subset must be null or a list of at least two distinct class labels "
                          f"(integers >= 0), got {class_subset}")


def check_target(metric: str, mode: str, tau: float) -> None:
    """tau must be a value the metric can take: an accuracy in [0, 1], a perplexity above 1, an
    error (a regression's RMSE or MSE) above 0."""
    if mode not in ("max", "min"):
        raise ConfigError(f"task.mode must be max or min, got {mode!r}")
    if metric.endswith("_ppl"):
        if mode != "min" or not float(tau) > 1.0:
            raise ConfigError(f"task.tau={tau} with task.metric={metric}: a perplexity target is above 1 and "
                              f"minimised (mode min)")
    elif metric.endswith(("_rmse", "_mse")):
        if mode != "min" or not float(tau) > 0.0:
            raise ConfigError(f"task.tau={tau} with task.metric={metric}: an error target is above 0 and "
                              f"minimised (mode min)")
    elif not 0.0 <= float(tau) <= 1.0:
        raise ConfigError(f"task.tau must be a score in [0, 1], got {tau}")


__all__ = ["OPTIMIZERS", "check_class_subset", "check_target", "check_task"]
