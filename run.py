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
    from ohgw.tuner.forkclient import start_early

    try:
        check_early(cfg)  # light: bad input is refused before the heavy imports
        start_early(cfg.launcher)  # before our own imports, so that the fork server's overlap them
        from ohgw.tuner.replicate import run_replicate
        from ohgw.tuner.summary import print_summary

        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record = run_replicate(cfg, job_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print_summary(record, job_dir)
    return record.get("best_val")


if __name__ == "__main__":
    main()
