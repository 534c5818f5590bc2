"""Scheduler registry: conf/scheduler/<name>.yaml names a Syne Tune 0.13 class in
`_target_`; this adds what every scheduler gets from the task and the replicate."""
from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import OmegaConf

from ohgw.errors import ConfigError

RESOURCE_ATTR = "epoch"       # what trials report, from 1
MAX_RESOURCE_ATTR = "epochs"  # the trial argument promotion-type schedulers rewrite


def config_space(task) -> dict:
    return {**task.space.to_syne_tune(), MAX_RESOURCE_ATTR: task.max_epochs}


def make_scheduler(scheduler_cfg, task, seed: int, extra_config: dict):
    cfg = OmegaConf.to_container(scheduler_cfg, resolve=True)
    cfg.pop("name")
    multi_fidelity = cfg.pop("multi_fidelity")
    if multi_fidelity:
        grace = cfg.get("grace_period", 1)
        if not 1 <= grace <= task.max_epochs:
            raise ConfigError(f"scheduler {scheduler_cfg.name}: grace_period={grace} must be in "
                              f"[1, task.max_epochs={task.max_epochs}]")
        cfg.update(resource_attr=RESOURCE_ATTR, max_resource_attr=MAX_RESOURCE_ATTR)
    return instantiate(cfg, config_space={**config_space(task), **extra_config},
                       metric=task.metric, mode=task.mode, random_seed=seed)
