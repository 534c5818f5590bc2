"""Task registry: a task is conf/task/<name>.yaml whose `_target_` names its class."""
from __future__ import annotations

from ohgw.config import instantiate
from omegaconf import OmegaConf

from ohgw import CONF_DIR
from ohgw.errors import ConfigError


def available() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml"))


def build(task_cfg, data_cache: dict | None = None):
    """The Task object from a task config node (or dict); `data_cache`: see Task.use_data_cache."""
    cfg = OmegaConf.to_container(task_cfg, resolve=True) if OmegaConf.is_config(task_cfg) else dict(task_cfg)
    task = instantiate(cfg, _convert_="all")
    return task if data_cache is None else task.use_data_cache(data_cache)


def config(name: str, **overrides):
    """conf/task/<name>.yaml as Hydra composes it (a task file may build on another through
    its defaults list), with `overrides` merged in."""
    from hydra import compose, initialize_config_dir

    if name not in available():
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(available())}")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        task = compose(config_name="config", overrides=[f"task={name}"]).task
    OmegaConf.set_struct(task, False)  # overrides may add entries (a search-space dimension)
    return OmegaConf.merge(task, overrides)


def load(name: str, hparams: dict | None = None, shuffle_seed: int = 0, **overrides):
    """(module, datamodule) for a task, for notebooks and tests:
    module, data = ohgw.tasks.load("digits")"""
    task = build(config(name, **overrides))
    module = task.module(hparams)
    return module, task.datamodule(shuffle_seed, batch_size=module.hp["batch_size"])
