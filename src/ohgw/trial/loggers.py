"""Trial-side logging (every trial imports this: keep it light). Every trial logs the sampled
x, the adjusted psi' and dF/dpsi to its Lightning logger.

With `logger=wandb` a trial itself logs to CSV: Syne Tune stops trials with SIGKILL, and a killed
process loses everything it had handed to wandb (its offline run file keeps only a header), so
the tuner logs each report to the replicate's live run (ohgw.tuner.dashboard) and the per-trial
runs are written from results.csv when the replicate's job ends (wandb_runs.py)."""
from __future__ import annotations

import lightning as L

from ohgw.results.contract import ADJUSTED, HYPERGRADIENT, values

WANDB_TARGET = "ohgw.trial.loggers.wandb_trial_logger"


def wandb_trial_logger(save_dir: str, name: str, **wandb_settings):
    """`logger=wandb` inside a trial: a CSVLogger. `wandb_settings` (project, group, job_type,
    ...) are read from the replicate's record when its job ends."""
    from lightning.pytorch.loggers import CSVLogger

    del wandb_settings
    return CSVLogger(save_dir=save_dir, name=name)


def hyperparameter_entries(sampled: dict, record: dict) -> dict:
    """Flat `x/<name>`, `psi/<name>`, `hg/<name>` entries and `ws_status` from the sampled
    configuration and a warm-start record (or a results row: the contract's psi_/hg_ fields)."""
    out = {f"x/{k}": v for k, v in sampled.items()}
    for prefix, field in (("psi", ADJUSTED), ("hg", HYPERGRADIENT)):
        out.update({f"{prefix}/{k}": v for k, v in values(record, sampled, field).items()})
    out["ws_status"] = record.get("ws_status", "baseline")
    return out


class LogHyperparameters(L.Callback):
    """After each process's first epoch (the warm-start has run by then): x, psi' and dF/dpsi
    to the trial's logger (CSV: hparams.yaml; TensorBoard: hparams)."""

    def __init__(self, sampled: dict, warmstart):
        self.sampled = sampled
        self.warmstart = warmstart  # WarmStartCallback: its record holds psi' and dF/dpsi
        self.logged = False

    def on_train_epoch_end(self, trainer, module):
        if self.logged or trainer.logger is None:
            return
        trainer.logger.log_hyperparams(hyperparameter_entries(self.sampled, self.warmstart.record))
        self.logged = True
