"""One replicate: one seed x one warm-start variant x one scheduler x one task, run by a
Syne Tune Tuner with the LocalBackend, recorded on disk through the results contract.

    check_config -> prepare -> claim the key -> (reuse a complete one | resume an interrupted one
    | set an unfinished attempt aside -> write_trial_config -> build_tuner) -> tune_and_record
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ohgw.config import instantiate
from ohgw.errors import ConfigError
from ohgw.results.contract import SCHEMA_VERSION, test_metric
from ohgw.results.io import load_record, raw_record, vouch, write_record, write_results
from ohgw.results.provenance import git_commit, versions
from ohgw.tasks import build
from ohgw.tuner.backends import make_backend
from ohgw.tuner.budget import Budget
from ohgw.tuner.checks import check_early
from ohgw.tuner.forkclient import TRIAL_MODULE, start_early
from ohgw.tuner.claims import Claim, describe, try_claim
from ohgw.tuner.recorder import ResultsRecorder
from ohgw.tuner.rerun import comparison_key, keep_other, point_at, replicate_key, search, set_aside, skip
from ohgw.tuner.resume import INTERRUPTIONS, TUNER_DIR, TunerSaver, load as load_tuner, sigterm_interrupts, take_over
from ohgw.tuner.runtime import runtime, slurm_ids
from ohgw.tuner.schedulers import make_scheduler
from ohgw.tuner.seeding import scheduler_seed
from ohgw.tuner.workers import backend_kwargs, gpu_environment
from ohgw.warmstart.cost import flops_profile, shape_key

TRIAL_CONFIG = "trial_config.yaml"
OVERSHOOT = ("reports the other workers' trials had already made when the budget was reached: the tuner "
             "counts every report it has fetched, then stops the trials still running")
DEVICE_OVERSHOOT = ("device-seconds of the running trials between the tuner's last check of the limit and their "
                    "stop (one polling interval, plus the stop itself)")
CLAIM_POLL_S = 10.0  # how often a launch waiting for another one's claim looks again


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
    claim = hold_claim(cfg, key, job_dir)
    if not isinstance(claim, Claim):
        return claim  # another launch is running it: what this job reports
    try:
        return run_claimed(cfg, job_dir, key, claim, task, variant, budget, rt)
    finally:
        claim.release()


def hold_claim(cfg: DictConfig, key: str, job_dir: Path):
    """This launch's claim on the key (ohgw.tuner.claims); while another live launch holds it,
    wait for it or skip it (rerun.on_claimed): then what this job reports instead."""
    root = Path(cfg.rerun.root)
    while True:
        claim, held, took_over = try_claim(root, key, job_dir, cfg.rerun.claim_stale_s)
        if claim is not None:
            if took_over:
                print(f"[claim] {took_over}: taking the replicate over")
            return claim
        if cfg.rerun.on_claimed != "wait":
            point_at(job_dir, key, Path(held["job_dir"]), "claimed")
            print(f"[claimed] replicate {key} is running in {describe(held)}; this job skips it "
                  f"(rerun.on_claimed=wait waits for it)")
            return {"status": "claimed", "key": key, "complete_at": held["job_dir"]}
        print(f"[waiting] replicate {key} is running in {describe(held)}; this job waits for it "
              f"(rerun.on_claimed=skip skips it)", flush=True)
        time.sleep(CLAIM_POLL_S)


def run_claimed(cfg: DictConfig, job_dir: Path, key: str, claim: Claim, task, variant, budget, rt) -> dict:
    """Reuse the complete replicate, resume an interrupted one, or run it afresh."""
    found = search(Path(cfg.rerun.root), key, job_dir)
    if found.complete is not None and cfg.rerun.skip_complete:
        return found_complete(job_dir, found.complete)
    replaces = list(found.unfinished)
    for where, why in found.broken:  # a record that vouches for files that changed: redone
        moved = set_aside(where)
        replaces.append(moved)
        print(f"[redo] {where}: {why}; set aside in {moved}, running the replicate again")
    if found.resumable is not None and cfg.rerun.skip_complete:  # skip_complete=false: a fresh run, always
        if found.resumable != job_dir.resolve():
            point_at(job_dir, key, found.resumable, "resumed")
        return resume_replicate(cfg, found.resumable, claim, task, budget)
    if found.resumable is not None and found.resumable != job_dir.resolve():
        replaces.append(str(found.resumable))
    kept = keep_other(job_dir, key)
    if kept:
        print(f"[kept] {job_dir} held the complete replicate of another configuration; moved to {kept}, "
              f"where reruns and the analysis find it")
    moved = set_aside(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    trial_cfg = write_trial_config(cfg, job_dir, task, variant, rt)
    record = new_record(cfg, task, variant, rt, key, replaces=([moved] if moved else []) + replaces)
    recorder = ResultsRecorder(task.space.names)
    tuner = build_tuner(cfg, task, bind(budget, recorder), rt, trial_cfg, job_dir, recorder, claim)
    return tune_and_record(tuner, recorder, record, task, rt, job_dir)


def found_complete(job_dir: Path, complete: Path) -> dict:
    """The complete replicate this job would repeat: its own (a requeued task), or a pointer to it."""
    if complete == job_dir.resolve():
        return load_record(complete)
    return skip(job_dir, complete)


def resume_replicate(cfg: DictConfig, where: Path, claim: Claim, task, budget) -> dict:
    """Go on with the interrupted replicate in `where` from its saved tuner (ohgw.tuner.resume)."""
    record = raw_record(where)
    saved = load_tuner(where)
    recorder = next(c for c in saved.callbacks if isinstance(c, ResultsRecorder))
    rt = record["runtime"]  # as it started: its trials read the same trial config
    if rt["n_workers"] != saved.n_workers:
        raise ConfigError(f"{where}: saved with {saved.n_workers} workers, its record says {rt['n_workers']}")
    tuner = build_tuner(cfg, task, bind(budget, recorder), rt, where / TRIAL_CONFIG, where, recorder, claim,
                        scheduler=saved.scheduler)
    resumed = {"epochs_recorded": len(recorder.rows), **take_over(tuner, saved)}
    print(f"[resume] {where}: going on from its saved tuner ({record['status']}; {resumed['epochs_recorded']} "
          f"epochs recorded, {resumed['trials_started']} trials started; trials {resumed['relaunched'] or 'none'} "
          f"go on from their checkpoints)", flush=True)
    record.setdefault("resumes", []).append({"at": _now(), "from": record["status"], **resumed,
                                            "slurm": slurm_ids(), "git_commit": git_commit()})
    record.update(status="running", error=None, finished_at=None)
    return tune_and_record(tuner, recorder, record, task, rt, where)


def bind(budget: Budget, recorder: ResultsRecorder) -> Budget:
    """The budget, counting what the recorder holds: the rows results.csv will hold, and the
    device time of the trials so far, running ones included."""
    budget.epochs_counted = lambda status: len(recorder.rows)
    budget.device_s_counted = lambda status: recorder.device_s()
    return budget


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


def build_tuner(cfg: DictConfig, task, budget, rt: dict, trial_cfg: Path, job_dir: Path, recorder,
                claim=None, scheduler=None):
    """The replicate's tuner; with `scheduler` (a saved one, when resuming), that scheduler."""
    from syne_tune.results_callback import StoreResultsCallback

    from ohgw.tuner.live import live_callbacks
    from ohgw.tuner.order import OrderedTuner

    if scheduler is None:
        scheduler = make_scheduler(cfg.scheduler, task, scheduler_seed(cfg.seed),
                                   {"ohgw_config": str(trial_cfg.resolve())})
        if hasattr(scheduler, "write_outputs"):  # what a learning scheduler starts from (aux_net.json)
            scheduler.write_outputs(job_dir)
    os.environ["SYNETUNE_FOLDER"] = str(job_dir.resolve())  # Syne Tune's own files go here
    backend = make_backend(cfg.launcher, TRIAL_MODULE, trial_cfg, cfg.tuner.order, **backend_kwargs(rt["gpus"]))
    saver = TunerSaver(recorder, cfg.tuner.save_every_s, claim)
    callbacks = [recorder, StoreResultsCallback(), saver, *live_callbacks(cfg, recorder, job_dir)]
    return OrderedTuner(trial_backend=backend, scheduler=scheduler, stop_criterion=budget, n_workers=rt["n_workers"],
                        sleep_time=cfg.tuner.sleep_time, max_failures=cfg.tuner.max_failures, tuner_name=TUNER_DIR,
                        suffix_tuner_name=False, save_tuner=False, callbacks=callbacks, print_update_interval=3600)


def tune_and_record(tuner, recorder, record: dict, task, rt: dict, job_dir: Path) -> dict:
    """Run the tuner; whatever happens, write what was finished and the final record: complete
    (vouching for its files), interrupted (a signal: the next launch resumes it) or failed."""
    write_record(job_dir, record)  # `running`: a replicate killed from now on is resumed or redone
    error = None
    try:
        with gpu_environment(rt["gpus"]), sigterm_interrupts():
            tuner.run()
    except BaseException as e:  # record what was finished, then re-raise
        error = e
        raise
    finally:
        frame = recorder.frame()
        write_results(job_dir, frame)
        statuses = dict(tuner.tuning_status.last_trial_status_seen) if tuner.tuning_status else {}
        status = "complete" if error is None else "interrupted" if isinstance(error, INTERRUPTIONS) else "failed"
        record.update(summarize(frame, record, tuner.tuning_status, recorder.device_s()), finished_at=_now(),
                      sampled_configs=recorder.sampled, rung_levels=rung_levels_used(tuner.scheduler),
                      trial_status={str(k): v for k, v in statuses.items()}, status=status,
                      error=None if error is None else f"{type(error).__name__}: {error}")
        if status == "complete":
            record["checksums"] = vouch(job_dir)
        write_record(job_dir, record)
    return record


def rung_levels_used(scheduler) -> list[int] | None:
    """The resource levels at which the scheduler made decisions, as it ran: the rungs that hold a
    report (PASHA grows into its rungs; explicit levels, DyHPO's), else those it was given; None
    for a scheduler without rungs."""
    levels = getattr(scheduler, "rung_levels", None)
    if levels is None:
        return None
    systems = getattr(getattr(scheduler, "terminator", None), "_rung_systems", None) or []
    used = sorted({int(r.level) for system in systems for r in getattr(system, "_rungs", []) if len(r.data)})
    return used or [int(v) for v in levels]


def summarize(frame, record: dict, status, device_s_counted: float | None = None) -> dict:
    """The record's summary of results.csv's rows; `device_s_counted`: the device-seconds the
    tuner counted, running trials included (ohgw.tuner.recorder), for the budget's overshoot."""
    out = {"n_trials": int(status.num_trials_started) if status else 0,
           "wallclock_s": float(status.wallclock_time) if status else 0.0,
           "budget_used": {"epochs": int(len(frame))}}
    metric = record["metric"]
    if frame.empty or metric not in frame:
        return {**out, "best_val": None, "best_trial_id": None, "test_of_best": None}
    best = frame.loc[frame[metric].idxmax() if record["mode"] == "max" else frame[metric].idxmin()]
    device_s = frame.groupby("trial_id")["elapsed_s"].max().sum()
    out["budget_used"].update(trials=out["n_trials"], wallclock_s=out["wallclock_s"], device_s=float(device_s))
    limit, over = record["budget"].get("epochs"), {}
    if limit is not None and len(frame) > limit:
        over.update(epochs=int(len(frame) - limit), why=OVERSHOOT)
    hours = record["budget"].get("device_hours")
    if hours is not None and device_s_counted is not None and device_s_counted > 3600 * hours:
        over.update(device_s=device_s_counted - 3600 * hours, device_why=DEVICE_OVERSHOOT)
    if over:
        out["budget_overshoot"] = over
    return {**out, "best_val": float(best[metric]), "best_trial_id": int(best["trial_id"]),
            "best_epoch": int(best["epoch"]), "test_of_best": float(best[record["test_metric"]])}


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
