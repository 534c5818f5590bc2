"""The checks of a replicate's config that need no heavy import (no torch, Lightning or Syne
Tune): run.py runs them before anything starts, so that bad input is refused in well under a
second. The replicate repeats them in full when it starts (replicate.check_config), with what
only the task's own code, the data and the machine can tell."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.config import instantiate
from ohgw.errors import ConfigError
from ohgw.hyperparams.registry import ROLES
from ohgw.tasks.spec import check_task
from ohgw.tuner.budget import Budget

DEVICES = ("auto", "cpu", "cuda")
LAUNCHERS = ("fork", "subprocess")
ORDERS = ("arrival", "deterministic")  # ohgw.tuner.order


def check_group_options(argv: list[str], conf_dir: Path) -> None:
    """ConfigError for `group=option` on the command line naming an option that conf/<group>/
    does not have (Hydra would print its own 20-line error and exit 1). Hydra's own groups
    (hydra/...) and sweep expressions such as choice(...) are left to Hydra."""
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if not sep or key.startswith(("hydra", "~")) or "(" in value or not (conf_dir / key).is_dir():
            continue
        options = sorted(p.stem for p in (conf_dir / key).glob("*.yaml"))
        for option in value.split(","):
            if option not in options and option != "null":
                raise ConfigError(f"{key}={option}: no such option; {key} is one of {', '.join(options)}")


def check_seed(seed) -> None:
    """The replicate seed: an integer >= 0 (trial seeds come from NumPy's SeedSequence of it)."""
    if isinstance(seed, (bool, float)) or not str(seed).isdigit():
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")


def check_gpus(gpus_to_use, num_gpus_per_trial) -> None:
    """What can be said of the GPU settings on any machine (runtime checks them against the
    GPUs that are there)."""
    if gpus_to_use is not None and (not OmegaConf.is_list(gpus_to_use) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in gpus_to_use)):
        raise ConfigError(f"gpus_to_use must be null or a list of GPU positions such as [0,2], got {gpus_to_use}")
    if num_gpus_per_trial != 1:
        # a trial trains on one device (Lightning's devices=1): further GPUs would sit idle
        raise ConfigError(f"num_gpus_per_trial={num_gpus_per_trial}: a trial trains on one GPU; give a replicate more "
                          "GPUs to run more trials at once (n_workers)")


def check_early(cfg: DictConfig) -> None:
    """ConfigError on the first bad top-level, budget, task or warm-start setting."""
    check_seed(cfg.seed)
    check_gpus(cfg.gpus_to_use, cfg.num_gpus_per_trial)
    if cfg.device not in DEVICES:
        raise ConfigError(f"device must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.n_workers is not None and (int(cfg.n_workers) != cfg.n_workers or cfg.n_workers < 1):
        raise ConfigError(f"n_workers must be an integer >= 1, got {cfg.n_workers}")
    if not isinstance(cfg.get("deterministic", False), bool):  # "no" or 0 would pass as false to Lightning
        raise ConfigError(f"deterministic must be true or false, got {cfg.deterministic!r}")
    if cfg.launcher not in LAUNCHERS:
        raise ConfigError(f"launcher must be one of {', '.join(LAUNCHERS)}, got {cfg.launcher!r}")
    if cfg.tuner.order not in ORDERS:
        raise ConfigError(f"tuner.order must be one of {', '.join(ORDERS)}, got {cfg.tuner.order!r}")
    budget = Budget(**OmegaConf.to_container(cfg.budget, resolve=True))
    if cfg.tuner.order == "deterministic" and (budget.wallclock_s is not None or budget.device_hours is not None):
        raise ConfigError("tuner.order=deterministic with budget.wallclock_s or budget.device_hours: a time limit cuts "
                          "the replicate where timing says, not where the virtual clock does; use budget.epochs or budget.trials")
    t = OmegaConf.to_container(cfg.task, resolve=True)
    space, _ = check_task(t["name"], t["tau"], t["max_epochs"], t["batch_size"], t["optimizer"],
                          t["search_space"], t.get("roles", ROLES), t.get("network"), t.get("fixed"),
                          label_noise=t.get("label_noise", 0.0), metric=t.get("metric", "val_acc"),
                          mode=t.get("mode", "max"), class_subset=t.get("class_subset"))
    instantiate(cfg.warmstart).targets(space)  # its fields; names in the mask
