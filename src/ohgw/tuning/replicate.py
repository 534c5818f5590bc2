"""One replicate: one seed x one warm-start variant x one scheduler x one task, run by a
Syne Tune Tuner with the LocalBackend, recorded on disk."""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.config import instantiate
from ohgw.errors import ConfigError
from ohgw.tasks import build
from ohgw.tuning.backends import make_backend
from ohgw.tuning.budget import Budget
from ohgw.tuning.forkclient import TRIAL_MODULE, start_early
from ohgw.tuning.recorder import ResultsRecorder
from ohgw.tuning.records import write_record, write_results
from ohgw.tuning.rerun import comparison_key, complete_here, earlier, replicate_key, set_aside, skip
from ohgw.tuning.schedulers import make_scheduler
from ohgw.tuning.seeding import scheduler_seed
from ohgw.tuning.workers import backend_kwargs, gpu_environment, gpu_plan, visible_gpus
from ohgw.warmstart.measure import flops_profile

TRIAL_CONFIG = "trial_config.yaml"


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
    _check_workers(n_workers)  # a default from too few GPUs is 0
    return {"n_workers": int(n_workers), "accelerator": "gpu" if use_gpu else "cpu", "gpus": plan,
            # split the cores so that workers do not fight over them
            "threads_per_trial": max(1, usable_cpus() // int(n_workers))}


def usable_cpus() -> int:
    """CPUs this process may run on: a Slurm allocation or a cpuset, not the whole node."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _check_workers(n_workers) -> None:
    if int(n_workers) != n_workers or n_workers < 1:
        raise ConfigError(f"n_workers must be an integer >= 1, got {n_workers}")


def check_config(cfg: DictConfig):
    """Every check of a replicate's config that does not depend on the machine (devices,
    data); ConfigError if one fails. A replicate runs it at its start, and the Slurm
    launcher for every job of a sweep before it queues any (hydra_plugins/ohgw_launchers.py)."""
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.n_workers is not None:
        _check_workers(cfg.n_workers)
    budget = Budget(**OmegaConf.to_container(cfg.budget))
    task = build(cfg.task)
    variant = instantiate(cfg.warmstart)
    variant.check(task.space)  # unknown names in the mask; warns once if nothing can move
    make_scheduler(cfg.scheduler, task, scheduler_seed(cfg.seed), {}, budget)  # a dry build: bad rungs, space, budget
    return task, variant, budget


def prepare(cfg: DictConfig, job_dir: Path):
    """Validate everything a replicate needs before any trial starts; ConfigError if not."""
    if any(c.isspace() for c in str(job_dir.resolve())):
        # Syne Tune joins trial arguments with spaces and splits them again
        raise ConfigError(f"output directory {job_dir.resolve()} contains whitespace; "
                          "set hydra.run.dir / hydra.sweep.dir to a path without spaces")
    task, variant, budget = check_config(cfg)
    task.check_data()
    return task, variant, budget, runtime(cfg)


def run_replicate(cfg: DictConfig, job_dir: Path) -> dict:
    start_early(cfg.launcher)  # run.py did, unless called from Python
    from syne_tune import Tuner

    job_dir = Path(job_dir)
    task, variant, budget, rt = prepare(cfg, job_dir)
    key = replicate_key(cfg)
    if cfg.rerun.skip_complete and (done := complete_here(job_dir, key)):
        return done
    moved = set_aside(job_dir)
    complete, unfinished = earlier(Path(cfg.rerun.root), key, job_dir)
    if complete is not None and cfg.rerun.skip_complete:
        return skip(job_dir, complete)
    job_dir.mkdir(parents=True, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    trial_cfg = job_dir / TRIAL_CONFIG
    rt["flops"] = flops_profile(task, variant)
    OmegaConf.save(OmegaConf.create({**resolved, "runtime": rt}), trial_cfg)

    recorder = ResultsRecorder(task.space.names)
    scheduler = make_scheduler(cfg.scheduler, task, scheduler_seed(cfg.seed),
                               {"ohgw_config": str(trial_cfg.resolve())})
    os.environ["SYNETUNE_FOLDER"] = str(job_dir.resolve())  # Syne Tune's own files go here
    backend = make_backend(cfg.launcher, TRIAL_MODULE, trial_cfg, **backend_kwargs(rt["gpus"]))
    tuner = Tuner(trial_backend=backend,
                  scheduler=scheduler,
                  stop_criterion=budget, n_workers=rt["n_workers"], sleep_time=cfg.tuner.sleep_time,
                  max_failures=cfg.tuner.max_failures, tuner_name="tuner", suffix_tuner_name=False,
                  save_tuner=False, callbacks=[recorder, _store_results()], print_update_interval=3600)
    record = {"status": "running", "task": task.name, "scheduler": cfg.scheduler.name,
              "warmstart": variant.name, "eta_h": variant.eta_h, "seed": cfg.seed, "tau": task.tau,
              "metric": task.metric, "mode": task.mode, "budget": OmegaConf.to_container(cfg.budget),
              "runtime": rt, "started_at": _now(), "python": sys.version.split()[0],
              "key": key, "comparison": comparison_key(cfg), "replaces": ([moved] if moved else []) + unfinished,
              "slurm": slurm_ids(), "config": resolved}
    write_record(job_dir, record)  # `running`: a replicate killed from now on is redone by a rerun
    error = None
    try:
        with gpu_environment(rt["gpus"]):
            tuner.run()
    except BaseException as e:  # record what was finished, then re-raise
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        frame = recorder.frame()
        write_results(job_dir, frame)
        statuses = dict(tuner.tuning_status.last_trial_status_seen) if tuner.tuning_status else {}
        record.update(summarize(frame, task, tuner.tuning_status), finished_at=_now(),
                      sampled_configs=recorder.sampled,
                      trial_status={str(k): v for k, v in statuses.items()},
                      status="failed" if error else "complete", error=error)
        write_record(job_dir, record)
    return record


SLURM_IDS = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID",
             "array_task_id": "SLURM_ARRAY_TASK_ID", "restart_count": "SLURM_RESTART_COUNT"}


def slurm_ids() -> dict:
    """Where this replicate ran on Slurm (empty elsewhere): to find its logs and requeues."""
    return {k: int(os.environ[v]) for k, v in SLURM_IDS.items() if v in os.environ}


def summarize(frame, task, status) -> dict:
    out = {"n_trials": int(status.num_trials_started) if status else 0,
           "wallclock_s": float(status.wallclock_time) if status else 0.0,
           "budget_used": {"epochs": int(len(frame))}}
    if frame.empty or task.metric not in frame:
        return {**out, "best_val": None, "best_trial_id": None, "test_of_best": None}
    best = frame.loc[frame[task.metric].idxmax() if task.mode == "max" else frame[task.metric].idxmin()]
    device_s = frame.groupby("trial_id")["elapsed_s"].max().sum()
    out["budget_used"].update(trials=out["n_trials"], wallclock_s=out["wallclock_s"], device_s=float(device_s))
    return {**out, "best_val": float(best[task.metric]), "best_trial_id": int(best["trial_id"]),
            "best_epoch": int(best["epoch"]), "test_of_best": float(best["test_acc"])}


def _store_results():
    from syne_tune.results_callback import StoreResultsCallback

    return StoreResultsCallback()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
