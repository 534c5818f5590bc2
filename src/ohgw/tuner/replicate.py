"""One replicate: one seed x one warm-start variant x one scheduler x one task, run by a
Syne Tune Tuner with the LocalBackend, recorded on disk through the results contract.

    check_config -> prepare -> (reuse a complete one | set an unfinished attempt aside)
    -> write_trial_config -> build_tuner -> tune_and_record
"""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.config import instantiate
from ohgw.errors import ConfigError
from ohgw.results.contract import SCHEMA_VERSION, test_metric
from ohgw.results.io import write_record, write_results
from ohgw.results.provenance import git_commit, versions
from ohgw.tasks import build
from ohgw.tuner.backends import make_backend
from ohgw.tuner.budget import Budget
from ohgw.tuner.checks import check_early
from ohgw.tuner.forkclient import TRIAL_MODULE, start_early
from ohgw.tuner.recorder import ResultsRecorder
from ohgw.tuner.rerun import comparison_key, complete_here, earlier, replicate_key, set_aside, skip
from ohgw.tuner.runtime import runtime, slurm_ids
from ohgw.tuner.schedulers import make_scheduler
from ohgw.tuner.seeding import scheduler_seed
from ohgw.tuner.workers import backend_kwargs, gpu_environment
from ohgw.warmstart.cost import flops_profile, shape_key

TRIAL_CONFIG = "trial_config.yaml"
OVERSHOOT = ("reports the other workers' trials had already made when the budget was reached: the tuner "
             "counts every report it has fetched, then stops the trials still running")


def check_config(cfg: DictConfig):
    """Every check of a replicate's config that does not depend on the machine (devices,
    data); ConfigError if one fails. A replicate runs it at its start, and the Slurm
    launcher for every job of a sweep before it queues any (hydra_plugins/ohgw_launchers.py)."""
    check_early(cfg)
    budget = Budget(**OmegaConf.to_container(cfg.budget, resolve=True))
    task = build(cfg.task)
    variant = instantiate(cfg.warmstart)
    variant.check(task.space, task.hyperparameters.movable)  # unknown mask names; warns if nothing moves
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
    trial_cfg = write_trial_config(cfg, job_dir, task, variant, rt)
    record = new_record(cfg, task, variant, rt, key, replaces=([moved] if moved else []) + unfinished)
    recorder = ResultsRecorder(task.space.names)
    budget.epochs_counted = lambda status: len(recorder.rows)
    budget.device_s_counted = lambda status: recorder.device_s()
    tuner = build_tuner(cfg, task, budget, rt, trial_cfg, job_dir, recorder)
    return tune_and_record(tuner, recorder, record, task, rt, job_dir)


def write_trial_config(cfg: DictConfig, job_dir: Path, task, variant, rt: dict) -> Path:
    """The one file every trial reads: the resolved config plus the runtime, with the FLOPs of
    a hyper-step and a training step at the space's midpoint (trials of other shapes count
    their own)."""
    rt["flops"] = {shape_key(task.hparams(), task.hyperparameters): flops_profile(task, variant)}
    path = job_dir / TRIAL_CONFIG
    OmegaConf.save(OmegaConf.create({**OmegaConf.to_container(cfg, resolve=True), "runtime": rt}), path)
    return path


def new_record(cfg: DictConfig, task, variant, rt: dict, key: str, replaces: list) -> dict:
    return {"schema_version": SCHEMA_VERSION, "status": "running", "task": task.name,
            "scheduler": cfg.scheduler.name, "warmstart": variant.name, "role": variant.role,
            "eta_h": variant.eta_h if variant.uses_eta else None,
            "seed": cfg.seed, "tau": task.tau, "metric": task.metric, "test_metric": test_metric(task.metric),
            "mode": task.mode, "budget": OmegaConf.to_container(cfg.budget, resolve=True), "runtime": rt,
            "started_at": _now(), "python": sys.version.split()[0], "git_commit": git_commit(),
            "versions": versions(), "key": key, "comparison": comparison_key(cfg), "replaces": replaces,
            "slurm": slurm_ids(), "config": OmegaConf.to_container(cfg, resolve=True)}


def build_tuner(cfg: DictConfig, task, budget, rt: dict, trial_cfg: Path, job_dir: Path, recorder):
    from syne_tune.results_callback import StoreResultsCallback

    from ohgw.tuner.live import live_callbacks
    from ohgw.tuner.order import OrderedTuner

    scheduler = make_scheduler(cfg.scheduler, task, scheduler_seed(cfg.seed),
                               {"ohgw_config": str(trial_cfg.resolve())})
    if hasattr(scheduler, "write_outputs"):  # what a learning scheduler starts from (aux_net.json)
        scheduler.write_outputs(job_dir)
    os.environ["SYNETUNE_FOLDER"] = str(job_dir.resolve())  # Syne Tune's own files go here
    backend = make_backend(cfg.launcher, TRIAL_MODULE, trial_cfg, cfg.tuner.order, **backend_kwargs(rt["gpus"]))
    return OrderedTuner(trial_backend=backend, scheduler=scheduler, stop_criterion=budget, n_workers=rt["n_workers"],
                 sleep_time=cfg.tuner.sleep_time, max_failures=cfg.tuner.max_failures, tuner_name="tuner",
                 suffix_tuner_name=False, save_tuner=False, callbacks=[recorder, StoreResultsCallback(), *live_callbacks(cfg, recorder, job_dir)],
                 print_update_interval=3600)


def tune_and_record(tuner, recorder, record: dict, task, rt: dict, job_dir: Path) -> dict:
    """Run the tuner; whatever happens, write what was finished and the final record."""
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
        record.update(summarize(frame, record, tuner.tuning_status), finished_at=_now(),
                      sampled_configs=recorder.sampled,
                      trial_status={str(k): v for k, v in statuses.items()},
                      status="failed" if error else "complete", error=error)
        write_record(job_dir, record)
    return record


def summarize(frame, record: dict, status) -> dict:
    out = {"n_trials": int(status.num_trials_started) if status else 0,
           "wallclock_s": float(status.wallclock_time) if status else 0.0,
           "budget_used": {"epochs": int(len(frame))}}
    metric = record["metric"]
    if frame.empty or metric not in frame:
        return {**out, "best_val": None, "best_trial_id": None, "test_of_best": None}
    best = frame.loc[frame[metric].idxmax() if record["mode"] == "max" else frame[metric].idxmin()]
    device_s = frame.groupby("trial_id")["elapsed_s"].max().sum()
    out["budget_used"].update(trials=out["n_trials"], wallclock_s=out["wallclock_s"], device_s=float(device_s))
    limit = record["budget"].get("epochs")
    if limit is not None and len(frame) > limit:
        out["budget_overshoot"] = {"epochs": int(len(frame) - limit), "why": OVERSHOOT}
    return {**out, "best_val": float(best[metric]), "best_trial_id": int(best["trial_id"]),
            "best_epoch": int(best["epoch"]), "test_of_best": float(best[record["test_metric"]])}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
