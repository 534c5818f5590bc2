"""Which GPUs the trials of a replicate get.

Syne Tune's LocalBackend counts GPUs with `nvidia-smi` (every GPU of the node, whatever
CUDA_VISIBLE_DEVICES this process inherited), gives each new trial `num_gpus_per_trial` of
them, free ones first, and sets the trial's CUDA_VISIBLE_DEVICES. Handing it the GPUs this
process may use as `gpus_to_use` (physical indices) keeps trials inside an allocation
(Slurm, a shared node) instead of spreading over the whole node. With a single GPU to use the
backend sets nothing, so trials must inherit it: see gpu_environment."""
from __future__ import annotations

import os
from contextlib import contextmanager

from ohgw.errors import ConfigError


def visible_gpus(n_visible: int, env=os.environ) -> list[int]:
    """Physical indices of the GPUs this process sees (n_visible = torch's count)."""
    inherited = env.get("CUDA_VISIBLE_DEVICES")
    if inherited is None:
        return list(range(n_visible))
    entries = [e.strip() for e in inherited.split(",") if e.strip()][:n_visible]
    if not all(e.isdigit() for e in entries):
        raise ConfigError(f"CUDA_VISIBLE_DEVICES={inherited!r}: only integer GPU indices are "
                          "supported (Syne Tune assigns GPUs by index)")
    return [int(e) for e in entries]


def gpu_plan(visible: list[int], gpus_to_use, num_gpus_per_trial: int) -> dict:
    """GPUs (physical indices) the trials rotate over and how many each trial gets.
    `gpus_to_use` are positions among the visible GPUs, as torch numbers them (cuda:i)."""
    chosen = list(range(len(visible))) if gpus_to_use is None else list(gpus_to_use)
    if not chosen or len(set(chosen)) != len(chosen) or not set(chosen) <= set(range(len(visible))):
        raise ConfigError(f"gpus_to_use={gpus_to_use} must be distinct indices in "
                          f"range({len(visible)}) (the visible GPUs: {visible})")
    if not 1 <= num_gpus_per_trial <= len(chosen):
        raise ConfigError(f"num_gpus_per_trial={num_gpus_per_trial} must be in [1, {len(chosen)}] "
                          f"(GPUs to use: {len(chosen)})")
    return {"gpus": [visible[i] for i in chosen], "num_gpus_per_trial": int(num_gpus_per_trial)}


def backend_kwargs(plan: dict | None) -> dict:
    """LocalBackend arguments for a gpu_plan (None: trials on CPU, no GPU assignment)."""
    if plan is None:
        return {"rotate_gpus": False}
    return {"rotate_gpus": True, "gpus_to_use": plan["gpus"],
            "num_gpus_per_trial": plan["num_gpus_per_trial"]}


@contextmanager
def gpu_environment(plan: dict | None):
    """While the tuner runs, trials inherit CUDA_VISIBLE_DEVICES = the plan's GPUs; the
    backend overrides it per trial when it rotates over more than one."""
    if plan is None:
        yield
        return
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, plan["gpus"]))
    try:
        yield
    finally:
        if before is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before
