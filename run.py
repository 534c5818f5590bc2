"""Hydra entry point: one replicate per job.

    python run.py                                      # digits, ASHA, OHGW, seed 0
    python run.py scheduler=pasha warmstart=ohgw task=digits -m seed='range(8)'
"""
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from ohgw.errors import ConfigError
    from ohgw.tuner.checks import check_early
    from ohgw.tuner.exclude import excluded
    from ohgw.tuner.forkclient import start_early

    try:
        if corner := excluded(cfg):  # a corner of the sweep the study does not run
            print(f"[excluded] {corner}: not part of this sweep's design (sweep.exclude); nothing run")
            return None
        check_early(cfg)  # light: bad input is refused before the heavy imports
        start_early(cfg.launcher)  # before our own imports, so that the fork server's overlap them
        from ohgw.tuner.quiet import import_syne_tune

        import_syne_tune()
        from ohgw.tuner.replicate import run_replicate
        from ohgw.tuner.summary import print_summary, write_wandb_runs

        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record = run_replicate(cfg, job_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    write_wandb_runs(cfg, job_dir)
    print_summary(record, job_dir)  # the last thing a job prints
    return record.get("best_val")


def refuse_unknown_options(argv: list[str]) -> None:
    """An unknown config-group option is one line and exit status 2, like any bad input."""
    from ohgw import CONF_DIR
    from ohgw.errors import ConfigError
    from ohgw.tuner.checks import check_group_options

    try:
        check_group_options(argv, CONF_DIR)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    refuse_unknown_options(sys.argv[1:])
    main()
