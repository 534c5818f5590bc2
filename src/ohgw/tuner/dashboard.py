"""`logger=wandb`: the replicate's wandb run, logged by the tuner process as each report arrives,
so that a dashboard shows the replicate while it runs. Trials are killed with SIGKILL when the
scheduler stops them and log nothing to wandb themselves; the tuner, which received their
reports, logs them, so nothing a killed trial reported is lost. The per-trial runs written from
the replicate's files when its job ends (ohgw.analysis.wandb_runs) stay the complete record.

One run per replicate: group = the replicates that may be compared (task, scheduler and the
comparison key: same settings and budget), job_type = the warm-start variant, one history step
per report (the step = epochs consumed, as results.csv counts them), the best score so far
beside the report's own scores. "Group by job_type" in the project's workspace then shows, per
variant, the mean over seeds of the best-so-far curve. Offline unless WANDB_MODE says otherwise,
into <job>/wandb/ (`wandb sync` uploads it); a resumed replicate logs again under the same run id,
from its first report."""
from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

from syne_tune.tuner_callback import TunerCallback

from ohgw.results.contract import ROW

STEP = "epochs"   # the history's step: reports recorded so far (results.csv's rows)
TAG = "live"      # on every live run: the filter that shows only them


class LiveRun(TunerCallback):
    """Started when the tuner is built, not when it runs: wandb's start-up (seconds) stays out of
    the tuning loop's clock, which the results' wall-clock columns and budget count."""

    def __init__(self, logger: dict, identity: dict, study: str, key: str, recorder, job_dir: Path,
                 metric: str, mode: str):
        import wandb

        self.recorder, self.metric, self.mode = recorder, metric, mode
        self.logged, self.best = 0, None
        job_dir = Path(job_dir).resolve()
        os.environ.setdefault("WANDB_MODE", "offline")
        os.environ["WANDB_SILENT"] = "true"
        self.run = wandb.init(
            project=logger["project"], entity=logger.get("entity"), group=study, job_type=identity["variant"],
            name=f"{identity['variant']}-seed{identity['seed']}", id=run_id(key, job_dir),
            config={**identity, "key": key, "job_dir": str(job_dir)}, tags=[*logger.get("tags", []), TAG],
            dir=str(job_dir), reinit="finish_previous", settings=wandb.Settings(silent=True, console="off"))
        self.run.define_metric(STEP)
        self.run.define_metric("*", step_metric=STEP)

    def on_tuning_start(self, tuner):
        self.log_new_reports()  # a resumed replicate's earlier reports

    def on_loop_end(self):
        self.log_new_reports()

    def on_tuning_end(self):
        """The last reports and the summary. The run is finished by the next wandb.init of this
        process (the job's per-trial runs, or the next replicate's live run: reinit) or at its
        exit: finishing it here would add its seconds to the tuning loop's clock."""
        self.log_new_reports()
        self.run.summary.update({f"best_{self.metric}": self.best, "reports": self.logged,
                                 "trials": len({row["trial_id"] for row in self.recorder.rows})})

    def log_new_reports(self):
        """One history step per row the recorder holds and the run does not yet."""
        for row in self.recorder.rows[self.logged:]:
            self.logged += 1
            value = row.get(self.metric)
            if isinstance(value, (int, float)) and math.isfinite(value) and (
                    self.best is None or (value > self.best if self.mode == "max" else value < self.best)):
                self.best = float(value)
            numbers = {k: row[k] for k in ROW if isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)}
            self.run.log({**numbers, STEP: self.logged, f"best_{self.metric}": self.best}, step=self.logged)


def run_id(key: str, job_dir: Path) -> str:
    """The replicate's run id: the same for every attempt of the replicate in its job directory
    (a resumed one goes on under it), another for a rerun elsewhere."""
    return f"{key}-{hashlib.sha256(str(job_dir).encode()).hexdigest()[:8]}"
