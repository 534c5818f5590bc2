"""The tuner's callbacks that show a replicate while it runs, chosen by the config: the progress
line (`terminal.progress`), Syne Tune's status tables on the terminal (`terminal.status_tables`)
and the live wandb run (`logger=wandb`). They live with this process only: a saved tuner leaves
them out (ohgw.tuner.order.OrderedTuner), a resumed one gets new ones."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from syne_tune.tuner_callback import TunerCallback

from ohgw.config import instantiate


def live_callbacks(cfg: DictConfig, recorder, job_dir: Path) -> list:
    from ohgw.trial.loggers import WANDB_TARGET
    from ohgw.tuner.progress import SWEEP, ProgressLine

    who = identity(cfg)
    out = []
    if cfg.terminal.progress:
        done, total = position_in_sweep(SWEEP.total)
        out.append(ProgressLine(f"{who['task']}/{who['scheduler']}/{who['variant']} seed {who['seed']}", done, total))
    if cfg.terminal.status_tables is not None:
        out.append(StatusTables(float(cfg.terminal.status_tables)))
    if cfg.logger.get("_target_") == WANDB_TARGET:
        from ohgw.tuner.dashboard import LiveRun
        from ohgw.tuner.rerun import comparison_key, replicate_key

        study = f"{who['task']}-{who['scheduler']}-{comparison_key(cfg)[:8]}"
        out.append(LiveRun(OmegaConf.to_container(cfg.logger, resolve=True), who, study, replicate_key(cfg),
                           recorder, job_dir, cfg.task.metric, cfg.task.mode))
    return out


def identity(cfg: DictConfig) -> dict:
    """Which replicate this is, in the fields a dashboard groups and averages by; `variant` is
    the warm-start with its eta_h where the variant's step uses one (ohgw-eta0.001)."""
    variant = instantiate(cfg.warmstart)
    eta = float(variant.eta_h) if variant.uses_eta else None
    return {"task": cfg.task.name, "scheduler": cfg.scheduler.name, "warmstart": cfg.warmstart.name, "eta_h": eta,
            "variant": cfg.warmstart.name if eta is None else f"{cfg.warmstart.name}-eta{eta:g}", "seed": int(cfg.seed)}


def position_in_sweep(total: int | None) -> tuple[int, int | None]:
    """(jobs of the sweep done before this one, the sweep's jobs): a multirun's job number
    (its jobs run one after another), or 0 of 1 for a single run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return 0, 1
    return int(HydraConfig.get().job.num), total


class StatusTables(TunerCallback):
    """Syne Tune's status table every `every_s` seconds (its tuner's own printer, which the
    replicate builds with an hour between tables)."""

    def __init__(self, every_s: float):
        self.every_s = every_s

    def on_tuning_start(self, tuner):
        tuner.status_printer.frequency = self.every_s
