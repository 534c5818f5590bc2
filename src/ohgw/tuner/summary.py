"""The one line a replicate's job ends with (run.py), and its wandb runs before it."""
import sys
from pathlib import Path


def write_wandb_runs(cfg, job_dir: Path) -> None:
    """The job's wandb runs (logger=wandb), from its replicate or the one it reused. A failure
    is a warning: the replicate has finished."""
    from omegaconf import OmegaConf

    try:
        from ohgw.analysis.wandb_runs import log_replicate_runs

        log_replicate_runs(job_dir, OmegaConf.to_container(cfg.logger, resolve=True))
    except Exception as e:  # noqa: BLE001 - the replicate itself has finished
        print(f"warning: wandb runs of {job_dir} failed ({type(e).__name__}: {e})", file=sys.stderr)


def print_summary(record: dict, job_dir) -> None:
    if record["status"] == "claimed":  # another launch runs it; its line is printed already
        return
    used = record.get("budget_used", {})
    best = record.get("best_val")
    where = job_dir if record["status"] != "skipped" else (
        f"{record['complete_at']} (reused: this replicate was complete already; {job_dir} holds only "
        f"skipped.json; rerun.skip_complete=false runs it again)")
    over = (record.get("budget_overshoot") or {}).get("epochs") or 0
    print(f"[{record['status']}] {record['task']} / {record['scheduler']} / {record['warmstart']} "
          f"seed {record['seed']}: {record['n_trials']} trials, "
          f"best {record['metric']} {'n/a' if best is None else f'{best:.4f}'} "
          f"(test {record.get('test_of_best') or float('nan'):.4f}), "
          f"{used.get('epochs', 0)} epochs{f' ({over} over the budget)' if over else ''}, "
          f"{record['wallclock_s']:.1f} s wall-clock, {used.get('device_s', 0):.1f} device-s\n  results: {where}")
