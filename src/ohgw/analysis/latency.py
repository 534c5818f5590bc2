"""Decision latency of a finished replicate: for every trial a stopping scheduler stopped,
the time from the report that triggered the stop (the trial's own timestamp) to the stop
(the backend's `stop` file), against the trial's epoch time.

    python -m ohgw.analysis.latency outputs/runs/<date>/<time>     # a replicate's job dir
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pandas as pd

from ohgw.results.io import load_record, load_results
from ohgw.trial.reporting import METRIC_PREFIX


def trial_reports(trial_dir: Path) -> dict[int, float]:
    """epoch -> the trial's timestamp of that report."""
    lines = (trial_dir / "std.out").read_text().splitlines()
    reports = [json.loads(line[len(METRIC_PREFIX):]) for line in lines if line.startswith(METRIC_PREFIX)]
    return {r["epoch"]: r["st_worker_timestamp"] for r in reports}


def latencies(job_dir: Path) -> tuple[pd.DataFrame, float]:
    """(per stopped trial: latency and epochs it reported after the stop; median epoch time)."""
    results = load_results(job_dir, load_record(job_dir))
    stamps = {t: trial_reports(job_dir / "tuner" / str(t)) for t in results["trial_id"].unique()}
    gaps = [s[e + 1] - s[e] for s in stamps.values() for e in s if e + 1 in s]
    rows = [{"trial_id": int(t), "epoch": int(e),
             "latency_s": (job_dir / "tuner" / str(t) / "stop").stat().st_mtime - stamps[t][e],
             "epochs_after_stop": sum(later > e for later in stamps[t])}
            for t, e in results.loc[results["decision"] == "STOP", ["trial_id", "epoch"]].values
            if (job_dir / "tuner" / str(t) / "stop").exists()]  # else it had ended by itself
    return pd.DataFrame(rows), statistics.median(gaps)


def main(job_dir: str) -> None:
    frame, epoch_s = latencies(Path(job_dir))
    print(frame.to_string(index=False))
    print(f"decision latency over {len(frame)} stops: median {frame['latency_s'].median():.3f} s, "
          f"max {frame['latency_s'].max():.3f} s; one epoch: median {epoch_s:.3f} s; "
          f"epochs reported after a stop: {int(frame['epochs_after_stop'].sum())}")


if __name__ == "__main__":
    main(sys.argv[1])
