"""The figures of one finished replicate, read from its job directory through the results
contract: what ran where, trial start-up, the warm-start's share of the device time and its
memory against the trial's. Exit status 1 unless the replicate is complete.

    python scripts/gpu_replicate_report.py JOB_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

from ohgw.results.io import load_record, load_results


def main(job: Path) -> int:
    record = load_record(job)
    results = load_results(job, record)
    rt = record["runtime"]
    last = results.sort_values("epoch").groupby("trial_id").tail(1)
    warm = last[last["ws_status"] == "applied"]
    per_epoch = (last["train_s"] / last["epoch"]).median()
    print(f"status {record['status']}; {rt['accelerator']}, {rt['precision']}, GPUs {rt['gpus']}, "
          f"{rt['n_workers']} workers; {len(last)} trials, {int(last['epoch'].sum())} epochs, "
          f"best {record['metric']} {record['best_val']:.4f}")
    print(f"start-up (first_batch_s) median {results['first_batch_s'].median():.2f} s, max "
          f"{results['first_batch_s'].max():.2f} s; epoch (train + validation) median {per_epoch:.2f} s")
    if len(warm):
        print(f"warm-start: {len(warm)} trials, share of device-seconds {100 * warm['ws_seconds'].sum() / warm['elapsed_s'].sum():.2f}%; "
              f"hyper-step median {warm['ws_seconds'].median():.3f} s against a step of {warm['step_seconds'].median():.4f} s; "
              f"start-up run median {warm['ws_startup_s'].median():.2f} s (apart)")
        print(f"memory (MiB, medians): hyper-step {warm['ws_peak_mb'].median():.0f}, step {warm['step_peak_mb'].median():.0f}, "
              f"trial peak {warm['process_peak_mb'].median():.0f}, trial reserved {warm['process_reserved_mb'].median():.0f}; "
              f"autograd fallbacks {int(warm['ws_fd_fallback'].sum())}")
    return 0 if record["status"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
