"""What a replicate gets from the machine it runs on: workers, device, threads, GPUs, and
where it runs on Slurm."""
from __future__ import annotations

import os

from omegaconf import DictConfig

from ohgw.errors import ConfigError
from ohgw.tuner.workers import gpu_plan, visible_gpus

CPU_WORKERS = 2  # trials at once on CPU when n_workers is null

SLURM_IDS = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
             "array_task_id": "SLURM_ARRAY_TASK_ID", "restart_count": "SLURM_RESTART_COUNT"}


def runtime(cfg: DictConfig) -> dict:
    """Workers, device and threads, resolved on the machine that runs the replicate."""
    import torch

    gpus = torch.cuda.device_count()
    device = cfg.device
    if device == "cuda" and gpus == 0:
        raise ConfigError(f"device=cuda but no CUDA device is visible{cuda_visible_note()}")
    use_gpu = device == "cuda" or (device == "auto" and gpus > 0)
    if not use_gpu and cfg.gpus_to_use is not None:  # asked for, and the trials would quietly run on CPU
        raise ConfigError(f"gpus_to_use={list(cfg.gpus_to_use)} but " + (
            "device=cpu" if device == "cpu" else f"no CUDA device is visible{cuda_visible_note()}"))
    plan = gpu_plan(visible_gpus(gpus), cfg.gpus_to_use, cfg.num_gpus_per_trial) if use_gpu else None
    n_workers = workers(cfg.n_workers, len(plan["gpus"]) if use_gpu else None, int(cfg.num_gpus_per_trial))
    if n_workers < 1:  # a default from too few GPUs
        raise ConfigError(f"n_workers must be an integer >= 1, got {n_workers}")
    return {"n_workers": int(n_workers), "accelerator": "gpu" if use_gpu else "cpu", "gpus": plan,
            # split the cores so that workers do not fight over them
            "threads_per_trial": max(1, usable_cpus() // int(n_workers)),
            "precision": trainer_precision(str(cfg.task.get("precision", "32")), use_gpu),
            "channels_last": bool(cfg.task.get("channels_last", False)) and use_gpu}


def workers(n_workers, gpus_used: int | None, num_gpus_per_trial: int) -> int:
    """Trials at once: n_workers, or where it is null one trial per num_gpus_per_trial of the GPUs
    the replicate uses (None: it runs on CPU, CPU_WORKERS). Light: the Slurm launcher asks it too."""
    if n_workers is not None:
        return n_workers
    return gpus_used // num_gpus_per_trial if gpus_used is not None else CPU_WORKERS


def cuda_visible_note(env=os.environ) -> str:
    """Where CUDA_VISIBLE_DEVICES hides every GPU, say so (a Slurm job without --gres)."""
    inherited = env.get("CUDA_VISIBLE_DEVICES")
    return "" if inherited is None else f" (CUDA_VISIBLE_DEVICES={inherited!r})"


def trainer_precision(precision: str, use_gpu: bool) -> str:
    """Lightning's precision for the task's: bf16 autocast on a GPU that has it (ConfigError on
    one that has not); on CPU bf16 is emulated and slow, so trials train in float32 there (the
    record's runtime says which)."""
    if precision != "bf16":
        return "32-true"
    if not use_gpu:
        return "32-true"
    import torch

    if not torch.cuda.is_bf16_supported():
        raise ConfigError(f"task.precision=bf16 but {torch.cuda.get_device_name()} has no bf16; use task.precision=32")
    return "bf16-mixed"


def usable_cpus() -> int:
    """CPUs this process may run on: a Slurm allocation or a cpuset, not the whole node."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def slurm_ids() -> dict:
    """Where this replicate ran on Slurm (empty elsewhere): to find its logs and requeues."""
    return {k: int(os.environ[v]) for k, v in SLURM_IDS.items() if v in os.environ}
