"""The wandb summary run of one replicate (`logger=wandb`), written when its job ends."""
from __future__ import annotations

import math
from pathlib import Path

from ohgw.analysis.collect import load_replicate
from ohgw.analysis.loggers import WANDB_TARGET, offline_by_default
from ohgw.analysis.metrics import UNITS, progress, replicate_measures
from ohgw.tuning.records import RECORD


def log_replicate_summary(job_dir: Path) -> bool:
    """One wandb run for a finished replicate of a `logger=wandb` job, in the same group as
    its trials (the resolved logger config of its record): the record as config, the
    best-so-far curve per epoch consumed, T@tau and the final scores as summary.
    False when the job left no complete replicate or did not log to wandb."""
    if not (Path(job_dir) / RECORD).exists():  # a failed or skipped job
        return False
    rep = load_replicate(Path(job_dir))
    logger = {} if isinstance(rep, str) else rep.record.get("config", {}).get("logger", {})
    if logger.get("_target_") != WANDB_TARGET:
        return False
    import wandb

    offline_by_default()
    r = rep.record
    run = wandb.init(project=logger["project"], entity=logger.get("entity"), group=logger["group"],
                     job_type=logger["job_type"], name=f"{logger['group']}-summary", dir=str(job_dir),
                     config={k: v for k, v in r.items() if k not in ("config", "sampled_configs")},
                     tags=[*logger.get("tags", []), "replicate-summary"], reinit="finish_previous")
    for row in progress(rep.results, r["metric"], r["mode"]).itertuples():
        run.log({f"best_{r['metric']}": row.best, "wallclock_s": row.wallclock_s,
                 "device_s": row.device_s}, step=int(row.epochs))
    measures = replicate_measures(rep)
    run.summary.update({k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in measures.items()})
    run.summary["reached_tau"] = math.isfinite(measures[f"t_{UNITS[-1]}"])
    run.finish()
    return True
