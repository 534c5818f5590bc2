"""Jobs of a multirun that the study does not run. Hydra's sweeper runs the whole product of its
axes; a study is often a product less a few corners (exp2: the 3e-4 step on noisy tokens is not
part of the design). `sweep.exclude` lists those corners, each a mapping of dotted config entries
to values; a job whose config matches every entry of one of them exits at once, writing no record,
so the analysis never sees it."""
from __future__ import annotations

import math

from omegaconf import DictConfig, OmegaConf

from ohgw.errors import ConfigError

_MISSING = object()


def excluded(cfg: DictConfig) -> str | None:
    """A line naming the corner this job is in, or None if it runs."""
    corners = OmegaConf.to_container(cfg.get("sweep", {}), resolve=True).get("exclude") or []
    if not isinstance(corners, list) or not all(isinstance(c, dict) and c for c in corners):
        raise ConfigError("sweep.exclude must be a list of mappings {dotted.config.entry: value}")
    for corner in corners:
        for name, value in corner.items():
            found = _select(cfg, name)
            if OmegaConf.is_config(found) and not OmegaConf.is_config(value) and not isinstance(value, (dict, list)):
                # e.g. `warmstart`, a whole group's node, never equals a name: the corner would never match
                raise ConfigError(f"sweep.exclude: {name} is a config node, not a value; name one of its entries "
                                  f"(e.g. {name}.name: {value})")
        if all(_same(_select(cfg, name), value) for name, value in corner.items()):
            return ", ".join(f"{name}={value}" for name, value in corner.items())
    return None


def _select(cfg: DictConfig, dotted: str):
    value = OmegaConf.select(cfg, dotted, default=_MISSING)
    if value is _MISSING:
        raise ConfigError(f"sweep.exclude names {dotted}, which is not in the config")
    return value


def _same(a, b) -> bool:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0) if numbers else a == b
