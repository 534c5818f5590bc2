"""Hydra entry point: one replicate per job.

    python run.py                                      # digits, ASHA, OHGW, seed 0
    python run.py scheduler=pasha warmstart=ohgw task=digits -m 'seed=range(8)'

The command line is read before Hydra parses it (ohgw.tuner.command_line): -m may stand
anywhere, and bad input is one line and exit status 2 before anything starts.
"""
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from ohgw.errors import ConfigError, Interrupted
    from ohgw.tuner.checks import check_early
    from ohgw.tuner.exclude import excluded
    from ohgw.tuner.forkclient import start_early

    try:
        if corner := excluded(cfg):  # a corner of the sweep the study does not run
            print(f"[excluded] {corner}: not part of this sweep's design (sweep.exclude); nothing run")
            return None
        check_early(cfg)  # light: bad input is refused before the heavy imports
        start_early(cfg.launcher)  # before our own imports, so that the fork server's overlap them
        from ohgw.tuner.quiet import import_syne_tune, syne_tune_on_terminal

        import_syne_tune()
        syne_tune_on_terminal(cfg.terminal.status_tables is not None)  # Hydra set up this job's logging anew
        from ohgw.tuner.progress import SWEEP
        from ohgw.tuner.replicate import run_replicate
        from ohgw.tuner.summary import print_summary, write_wandb_runs

        SWEEP.total = SWEEP_JOBS
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        record = run_replicate(cfg, job_dir)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (Interrupted, KeyboardInterrupt) as e:  # the replicate's state is saved: say how to go on
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        print(f"[interrupted] {HydraConfig.get().runtime.output_dir}: stopped by {signal.Signals(signum).name}; "
              f"run the same command again to resume it", file=sys.stderr)
        sys.exit(128 + signum)
    write_wandb_runs(cfg, job_dir)
    print_summary(record, job_dir)  # the last thing a job prints
    return record.get("best_val")


SWEEP_JOBS = None  # jobs of this command's sweep (the progress line's total); None where unknown


def read_command_line(argv: list[str]) -> list[str]:
    """The arguments as Hydra's parser takes them (options first); bad input is one line and
    exit status 2, like any bad input."""
    global SWEEP_JOBS
    from ohgw.errors import ConfigError
    from ohgw.tuner.command_line import read

    try:
        line = read(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    SWEEP_JOBS = len(line.jobs) or None
    return line.argv


if __name__ == "__main__":
    sys.argv[1:] = read_command_line(sys.argv[1:])
    main()
