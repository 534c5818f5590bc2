"""Throughput: the same replicate two ways, side by side: by default with Syne Tune's stock
LocalBackend (launcher=subprocess) and with the fork server (launcher=fork); with
`--compare orders`, with the fork server in Syne Tune's arrival order and in the deterministic
virtual-clock order (tuner.order). In the two settings a user meets:
- `run`: one replicate, one command: a fresh `python run.py ...` process, timed whole (its
  own imports included; the fork server starts inside it, its imports overlapping the tuner's);
- `multirun`: a later job of a multirun (`-m seed=...`): run_replicate in a process that has
  run one before, so the tuner's imports are done and the fork server is already up.

    python scripts/bench.py                                  # digits, ASHA and PASHA, seed 0, 30 epochs
    python scripts/bench.py --schedulers asha --epochs 60 --repeats 3 task.batch_size=8
    python scripts/bench.py --compare orders --schedulers asha asha_promotion

Per replicate: wall-clock (`wall_s`: the process for `run`, run_replicate for `multirun`),
the tuner's own wall-clock, median and max seconds from a trial process's launch (start or
resume) to its first training batch (`first_batch_s` in the trial's reports), the useful-work
fraction (seconds inside training/validation epochs, summed over trials, over n_workers x
the tuner's wall-clock) and the trials started / finished (not failed). Then the gains.
Extra arguments are Hydra overrides applied to every replicate.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from hydra import compose, initialize_config_dir

from ohgw import CONF_DIR
from ohgw.results.io import load_record, load_results
from ohgw.tuner.replicate import run_replicate

ROOT = CONF_DIR.parent
SETTINGS = ("run", "multirun")
# what is compared: two named sets of overrides; gains are the first over the second for
# seconds, the second over the first otherwise
COMPARISONS = {"launchers": {"stock": ["launcher=subprocess"], "fork": ["launcher=fork"]},
               "orders": {"arrival": ["launcher=fork", "tuner.order=arrival"],
                          "deterministic": ["launcher=fork", "tuner.order=deterministic"]}}
FINISHED = ("Completed", "Stopped", "Paused")  # what a trial ends as, unless it failed


def in_fresh_process(overrides: list[str], job_dir: Path) -> None:
    with open(job_dir / "bench.log", "w") as log:
        subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides, f"hydra.run.dir={job_dir}"],
                       cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)


def in_this_process(overrides: list[str], job_dir: Path) -> None:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    with open(job_dir / "bench.log", "w") as log, redirect_stdout(log):  # Syne Tune's status tables
        run_replicate(cfg, job_dir)


def measure(setting: str, overrides: list[str], job_dir: Path) -> dict:
    job_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    (in_fresh_process if setting == "run" else in_this_process)(overrides, job_dir)
    wall = time.perf_counter() - t0
    record = load_record(job_dir)
    frame = load_results(job_dir, record)
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


def table(results: dict, ways: dict) -> str:
    """results[setting][way] -> list of measures; medians side by side."""
    first, second = ways
    keys = list(results[SETTINGS[0]][first][0])
    med = {(s, w): {k: statistics.median(r[k] for r in runs) for k in keys}
           for s, by_way in results.items() for w, runs in by_way.items()}
    lines = ["".join([f"{'':16}", *(f"{s + ' ' + w:>24}" for s in SETTINGS for w in ways),
                      *(f"{s + ' gain':>16}" for s in SETTINGS)])
             + f"   (gain: {first}/{second} for seconds, {second}/{first} otherwise)"]
    for k in keys:
        cells = [f"{med[s, w][k]:24.3f}" for s in SETTINGS for w in ways]
        for s in SETTINGS:
            a, b = med[s, first][k], med[s, second][k]
            num, den = (a, b) if k.endswith("_s") else (b, a)
            cells.append(f"{num / den:16.2f}" if den else f"{'':16}")
        lines.append(f"{k:16}" + "".join(cells))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", choices=list(COMPARISONS), default="launchers")
    parser.add_argument("--schedulers", nargs="+", default=["asha", "pasha"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30, help="budget: epochs consumed per replicate")
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting and launcher (medians are printed)")
    parser.add_argument("--out", type=Path, default=None, help="keep the replicates here (default: a temp dir)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every replicate")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="ohgw-bench-"))
    ways = COMPARISONS[args.compare]
    for scheduler in args.schedulers:
        results = {s: {w: [] for w in ways} for s in SETTINGS}
        base = [f"scheduler={scheduler}", f"seed={args.seed}", f"budget.epochs={args.epochs}",
                "rerun.skip_complete=false", *args.overrides]
        # untimed: the tuner's imports and a running fork server, as after a multirun's first job
        measure("multirun", [*base, "launcher=fork"], out / f"{scheduler}-warm-up")
        for rep in range(args.repeats):
            for setting in SETTINGS:  # interleaved: load drifts hit all alike
                for name, overrides in ways.items():
                    job = out / f"{scheduler}-{setting}-{name}-{rep}"
                    results[setting][name].append(measure(setting, [*base, *overrides], job))
        print(f"\n== {scheduler}, seed {args.seed}, {args.epochs} epochs, {args.repeats} run(s) each, "
              f"medians; overrides: {' '.join(args.overrides) or '-'}  ({out})")
        print(table(results, ways), flush=True)


if __name__ == "__main__":
    main()
