"""The trial entry point Syne Tune launches:
    python ohgw/trial/main.py --ohgw_config <resolved.yaml> --epochs N --<hp> <value> ... --st_checkpoint_dir D
Trains one configuration with Lightning, reporting once per epoch; resumes from its
checkpoint when restarted (promotion-type schedulers pause and resume trials). The fork
server calls main() in a forked child instead, handing it its launch time and data cache."""
import time

PROCESS_START = time.time()  # a stock trial process's start (the fork server passes its own)

import logging  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

EXIT_DIVERGED = 3
EXIT_BAD_CHECKPOINT = 4


def parse_args(argv: list[str]) -> dict[str, str]:
    if len(argv) % 2 or not all(a.startswith("--") for a in argv[::2]):
        raise SystemExit(f"trial: expected --key value pairs, got {argv}")
    return {k[2:]: v for k, v in zip(argv[::2], argv[1::2])}


def sampled_config(args: dict, space) -> dict:
    return {p.name: p.parse(args[p.name]) for p in space}


def trial_logger(logger_cfg, trial_dir: Path):
    """The configured Lightning logger, writing under the trial's directory."""
    from omegaconf import OmegaConf

    from ohgw.config import instantiate

    kwargs = {k: v for k, v in OmegaConf.to_container(logger_cfg, resolve=True).items() if k != "name"}
    return instantiate(kwargs, save_dir=str(trial_dir), name="lightning")


def main(argv=None, started_at: float | None = None, data_cache: dict | None = None) -> int:
    """Run one trial process. `started_at`: when its launch was asked for (default: this
    process's start); `data_cache`: splits already loaded by a long-lived parent."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import lightning as L
    import torch
    from omegaconf import OmegaConf

    from ohgw.config import instantiate
    from ohgw.tasks import build
    from ohgw.tasks.module import Diverged
    from ohgw.trial.loggers import LogHyperparameters
    from ohgw.trial.reporting import CheckpointIO, EpochReporter, UnreadableCheckpoint
    from ohgw.trial.warmstart_callback import WarmStartCallback, trial_flops
    from ohgw.tuner.seeding import RANDOM_DIRECTION_STREAM, trial_seed

    cfg = OmegaConf.load(args["ohgw_config"])
    checkpoint_dir = Path(args["st_checkpoint_dir"])
    trial_dir = checkpoint_dir.parent  # the backend's <tuner>/<trial_id>/checkpoints
    trial_id = int(trial_dir.name)
    seed = trial_seed(cfg.seed, trial_id)
    torch.set_num_threads(cfg.runtime.threads_per_trial)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    L.seed_everything(seed, verbose=False)

    task = build(cfg.task, data_cache=data_cache)
    variant = instantiate(cfg.warmstart)
    sampled = sampled_config(args, task.space)
    module = task.module(sampled)
    if cfg.runtime.get("channels_last"):
        module = module.to(memory_format=torch.channels_last)
    data = task.datamodule(shuffle_seed=seed, batch_size=module.hp["batch_size"])
    warmstart = WarmStartCallback(variant, trial_seed(cfg.seed, trial_id, RANDOM_DIRECTION_STREAM),
                                  trial_flops(OmegaConf.to_container(cfg.runtime.flops), task, variant, sampled))
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_dir / "last.ckpt"
    reporter = EpochReporter(checkpoint, warmstart, PROCESS_START if started_at is None else started_at,
                             task.epoch_metrics)
    trainer = L.Trainer(
        max_epochs=int(args["epochs"]), accelerator=cfg.runtime.accelerator, devices=1,
        precision=cfg.runtime.get("precision", "32-true"),
        # deterministic algorithms where PyTorch has them; the ops without one warn and stay
        # non-deterministic (Lightning's "warn": True would stop every trial on a GPU at
        # nll_loss, adaptive pooling or grid_sample; docs/performance.md)
        deterministic="warn" if cfg.get("deterministic", False) else None,
        logger=trial_logger(cfg.logger, trial_dir),
        # x, psi' logged before the report, which can get the trial stopped (killed)
        callbacks=[warmstart, LogHyperparameters(sampled, warmstart), reporter],
        enable_progress_bar=False, enable_model_summary=False, plugins=[CheckpointIO()],
        enable_checkpointing=False, num_sanity_val_steps=0, log_every_n_steps=1)
    resume = checkpoint if checkpoint.exists() else None
    try:
        # our own file, and it holds RNG states (numpy, python) that weights_only refuses
        trainer.fit(module, datamodule=data, ckpt_path=resume, weights_only=False)
    except UnreadableCheckpoint as e:  # fail loudly: never restart a paused trial from scratch
        print(f"trial {trial_id}: corrupt checkpoint {e}", file=sys.stderr)
        return EXIT_BAD_CHECKPOINT
    except Diverged as e:
        print(f"trial {trial_id} diverged: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


if __name__ == "__main__":
    sys.exit(main())
