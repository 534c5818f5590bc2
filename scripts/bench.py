"""Trial-launch throughput: the same replicate with Syne Tune's stock LocalBackend
(launcher=subprocess) and with the fork server (launcher=fork), side by side.

    python scripts/bench.py                                  # digits, ASHA and PASHA, seed 0, 30 epochs
    python scripts/bench.py --schedulers asha --epochs 60 --repeats 3 task.batch_size=8

Per replicate: wall-clock of run_replicate (everything a user waits for), the tuner's own
wall-clock, median and max seconds from a trial process's launch (start or resume) to its
first training batch (`first_batch_s` in the trial's reports), the useful-work fraction
(seconds inside training/validation epochs, summed over trials, over n_workers x the tuner's
wall-clock) and the trials started / finished (not failed). Then the gains. Extra arguments
are Hydra overrides applied to every replicate.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

from ohgw import CONF_DIR
from ohgw.tuning.replicate import run_replicate

LAUNCHERS = ("subprocess", "fork")
FINISHED = ("Completed", "Stopped", "Paused")  # what a trial ends as, unless it failed


def measure(overrides: list[str], job_dir: Path) -> dict:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    job_dir.mkdir(parents=True)
    with open(job_dir / "bench.log", "w") as log, redirect_stdout(log):  # Syne Tune's status tables
        t0 = time.perf_counter()
        record = run_replicate(cfg, job_dir)
        wall = time.perf_counter() - t0
    frame = pd.read_csv(job_dir / "results.csv")
    # one first_batch_s per process: a resumed trial reports a new one
    starts = frame.drop_duplicates(["trial_id", "first_batch_s"])["first_batch_s"]
    useful = frame.groupby("trial_id")["train_s"].max().sum()
    statuses = list(record["trial_status"].values())
    return {"wall_s": wall, "tuner_s": record["wallclock_s"],
            "start_median_s": float(starts.median()), "start_max_s": float(starts.max()),
            "useful_fraction": useful / (record["runtime"]["n_workers"] * record["wallclock_s"]),
            "epoch_s": useful / len(frame),  # mean seconds of one epoch's training and validation
            "trials": record["n_trials"], "finished": sum(s in FINISHED for s in statuses),
            "epochs": record["budget_used"]["epochs"], "best_val": record["best_val"]}


def table(results: dict) -> str:
    keys = list(next(iter(results[LAUNCHERS[0]])).keys())
    med = {launcher: {k: statistics.median(r[k] for r in runs) for k in keys}
           for launcher, runs in results.items()}
    lines = [f"{'':16}{'stock':>12}{'fork':>12}{'gain':>12}   (gain: stock/fork for seconds, fork/stock otherwise)"]
    for k in keys:
        stock, fork = med["subprocess"][k], med["fork"][k]
        num, den = (stock, fork) if k.endswith("_s") else (fork, stock)
        ratio = f"{num / den:12.2f}" if den else f"{'':12}"
        lines.append(f"{k:16}{stock:12.3f}{fork:12.3f}{ratio}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedulers", nargs="+", default=["asha", "pasha"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30, help="budget: epochs consumed per replicate")
    parser.add_argument("--repeats", type=int, default=1, help="runs per launcher (medians are printed)")
    parser.add_argument("--out", type=Path, default=None, help="keep the replicates here (default: a temp dir)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every replicate")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="ohgw-bench-"))
    for scheduler in args.schedulers:
        results = {launcher: [] for launcher in LAUNCHERS}
        for rep in range(args.repeats):
            for launcher in LAUNCHERS:  # interleaved: load drifts hit both alike
                overrides = [f"scheduler={scheduler}", f"seed={args.seed}", f"budget.epochs={args.epochs}",
                             f"launcher={launcher}", "rerun.skip_complete=false", *args.overrides]
                results[launcher].append(measure(overrides, out / f"{scheduler}-{launcher}-{rep}"))
        print(f"\n== {scheduler}, seed {args.seed}, {args.epochs} epochs, {args.repeats} run(s) per launcher, "
              f"medians; overrides: {' '.join(args.overrides) or '-'}  ({out})")
        print(table(results), flush=True)


if __name__ == "__main__":
    main()
