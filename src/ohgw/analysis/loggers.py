"""Trial-side experiment-tracker output (imported by every trial: keep it light): every trial
logs x, psi' and dF/dpsi to its Lightning logger; with `logger=wandb` each trial is a wandb run
(group = replicate, job_type = variant). wandb runs offline unless WANDB_MODE says otherwise,
so it never waits for an API key; `wandb sync` uploads later (README)."""
from __future__ import annotations

import os
from pathlib import Path

import lightning as L

WANDB_TARGET = "ohgw.analysis.loggers.wandb_trial_logger"


def offline_by_default() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")


def wandb_trial_logger(save_dir: str, name: str, project: str, group: str, job_type: str,
                       entity: str | None = None, tags: list | None = None):
    """The Lightning logger of one trial. `save_dir` is the trial's directory (named by its
    trial id). `name` is the version-directory name trial.py gives every logger; a wandb run
    is named after its trial instead."""
    from lightning.pytorch.loggers import WandbLogger

    del name
    offline_by_default()
    return WandbLogger(project=project, entity=entity, group=group, job_type=job_type,
                       name=f"trial-{Path(save_dir).name}", save_dir=save_dir,
                       tags=list(tags or []))


class LogHyperparameters(L.Callback):
    """After each process's first epoch (the warm-start has run by then): the sampled x,
    the adjusted psi' and the hyper-gradient, as flat `x/...`, `psi/...`, `hg/...` entries."""

    def __init__(self, sampled: dict, warmstart):
        self.sampled = sampled
        self.warmstart = warmstart  # WarmStartCallback: its record holds psi' and dF/dpsi
        self.logged = False

    def on_train_epoch_end(self, trainer, module):
        if self.logged or trainer.logger is None:
            return
        record = self.warmstart.record
        params = {f"x/{k}": v for k, v in self.sampled.items()}
        for prefix in ("ws", "hg"):
            params.update({f"{'psi' if prefix == 'ws' else 'hg'}/{k}": record[f"{prefix}_{k}"]
                           for k in self.sampled if f"{prefix}_{k}" in record})
        params["ws_status"] = record.get("ws_status", "baseline")
        trainer.logger.log_hyperparams(params)
        self.logged = True
