"""What a replicate gets from the machine it runs on: workers, device, threads, GPUs, and
where it runs on Slurm."""
from __future__ import annotations

import os

from omegaconf import DictConfig

from ohgw.errors import ConfigError
from ohgw.tuner.workers import gpu_plan, visible_gpus

SLURM_IDS = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
             "array_task_id": "SLURM_ARRAY_TASK_ID", "restart_count": "SLURM_RESTART_COUNT"}


def runtime(cfg: DictConfig) -> dict:
    """Workers, device and threads, resolved on the machine that runs the replicate."""
    import torch

    gpus = torch.cuda.device_count()
    device = cfg.device
    if device == "cuda" and gpus == 0:
        raise ConfigError("device=cuda but no CUDA device is visible")
    use_gpu = device == "cuda" or (device == "auto" and gpus > 0)
    plan = gpu_plan(visible_gpus(gpus), cfg.gpus_to_use, cfg.num_gpus_per_trial) if use_gpu else None
    n_workers = cfg.n_workers if cfg.n_workers is not None else (
        len(plan["gpus"]) // plan["num_gpus_per_trial"] if use_gpu else 2)
    if n_workers < 1:  # a default from too few GPUs
        raise ConfigError(f"n_workers must be an integer >= 1, got {n_workers}")
    return {"n_workers": int(n_workers), "accelerator": "gpu" if use_gpu else "cpu", "gpus": plan,
            # split the cores so that workers do not fight over them
            "threads_per_trial": max(1, usable_cpus() // int(n_workers))}


def usable_cpus() -> int:
    """CPUs this process may run on: a Slurm allocation or a cpuset, not the whole node."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def slurm_ids() -> dict:
    """Where this replicate ran on Slurm (empty elsewhere): to find its logs and requeues."""
    return {k: int(os.environ[v]) for k, v in SLURM_IDS.items() if v in os.environ}
