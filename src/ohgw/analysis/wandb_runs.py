"""`logger=wandb`: when a replicate's job ends, one wandb run per trial (group = the replicate,
job_type = the variant, config = x, psi', dF/dpsi, one history step per epoch) and a summary
run, all written from the replicate's files into <job>/wandb. Offline unless WANDB_MODE says
otherwise, so nothing waits for an API key; `wandb sync` uploads them (README)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from ohgw.analysis.collect import Replicate, load_replicate
from ohgw.analysis.measures import replicate_measures
from ohgw.analysis.metrics import UNITS, progress, trials
from ohgw.results.records import skipped_target
from ohgw.results.contract import ROW, SAMPLED, hyperparameters, values
from ohgw.results.io import RECORD
from ohgw.trial.loggers import WANDB_TARGET, hyperparameter_entries

# a trial's history: every per-epoch field of a results row but its keys and the decision
EPOCH_METRICS = tuple(f for f in ROW if f not in ("trial_id", "epoch", "decision"))


def log_replicate_runs(job_dir: Path, logger: dict) -> int:
    """Write the wandb runs of a job that asked for them (`logger`: its resolved logger config)
    into <job>/wandb: of the replicate it ran, or of the complete one it reused (a rerun that was
    skipped, whichever logger that one ran with). How many runs (0 when the logger is not wandb or
    the job left no complete replicate). Quiet: wandb's own output is switched off."""
    job_dir = Path(job_dir)
    if logger.get("_target_") != WANDB_TARGET:
        return 0
    source = job_dir if (job_dir / RECORD).exists() else skipped_target(job_dir)
    rep = load_replicate(source) if source is not None else None
    if not isinstance(rep, Replicate):  # failed, or nothing finished
        return 0
    import wandb

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ["WANDB_SILENT"] = "true"
    r = rep.record
    common = dict(project=logger["project"], entity=logger.get("entity"), group=logger["group"],
                  job_type=logger["job_type"], dir=str(job_dir), reinit="finish_previous",
                  settings=wandb.Settings(silent=True, console="off"))
    names = hyperparameters(rep.results.columns, SAMPLED)
    last = trials(rep.results)
    for trial_id, rows in rep.results.sort_values("epoch").groupby("trial_id"):
        row = last.loc[trial_id].to_dict()
        config = {"trial_id": int(trial_id), "seed": r["seed"], "eta_h": r["eta_h"],
                  **hyperparameter_entries(values(row, names, SAMPLED), row)}
        run = wandb.init(name=f"trial-{trial_id}", config=config, tags=list(logger.get("tags", [])), **common)
        for epoch in rows.itertuples():
            run.log({m: getattr(epoch, m) for m in EPOCH_METRICS if m in rows}, step=int(epoch.epoch))
        run.summary["decision"] = row.get("decision")
        run.finish()
    run = wandb.init(name="summary", config={k: v for k, v in r.items() if k not in ("config", "sampled_configs")},
                     tags=[*logger.get("tags", []), "replicate-summary"], **common)
    for row in progress(rep.results, r).itertuples():
        run.log({f"best_{r['metric']}": row.best, "wallclock_s": row.wallclock_s,
                 "device_s": row.device_s}, step=int(row.epochs))
    measures = replicate_measures(rep)
    run.summary.update({k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in measures.items()})
    run.summary["reached_tau"] = math.isfinite(measures[f"t_{UNITS[-1]}"])
    run.finish()
    return last.shape[0] + 1
