"""A replicate interrupted at about half its budget (SIGTERM, as a time limit sends it; SIGKILL to
its whole process group, as a lost node leaves it) goes on when the same command runs again: it
finishes, no epoch a trial had trained is trained again, and under tuner.order=deterministic it
makes the decisions and reports the rows of a replicate that ran straight through."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ohgw.results.contract import ROW
from tests.helpers import ROOT, TIMING, run_cli, trained

pytestmark = pytest.mark.slow

BUDGET = 40  # epochs
# PASHA pauses and resumes trials (a resumed trial reads its checkpoint); 2 workers; every change saved
REPLICATE = ("task=digits", "scheduler=pasha", f"budget.epochs={BUDGET}", "budget.trials=null",
             "tuner.order=deterministic", "n_workers=2", "seed=3", "tuner.save_every_s=0")


def command(job: Path) -> list[str]:
    return [*REPLICATE, f"rerun.root={job.parent}", f"hydra.run.dir={job}"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    job = tmp_path_factory.mktemp("straight") / "job"
    done = run_cli(*command(job))
    assert done.returncode == 0, done.stderr[-3000:]
    return job


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_an_interrupted_replicate_resumes_and_ends_as_one_that_ran_straight_through(straight, how, tmp_path):
    job = tmp_path / "job"
    first = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *command(job)], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while len(trained(job / "tuner")) < BUDGET // 2:  # about half the budget trained
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-3000:]
        time.sleep(0.05)
    if how == "SIGTERM":
        first.send_signal(signal.SIGTERM)
    else:
        os.killpg(first.pid, signal.SIGKILL)
    _, err = first.communicate(timeout=120)
    at_kill = trained(job / "tuner")
    shutil.copytree(job / "tuner", tmp_path / "at_kill")  # what the interrupted run had trained
    cut = json.loads((job / "replicate.json").read_text())
    if how == "SIGTERM":  # one line, saying how to go on; the record says so too
        assert first.returncode == 128 + signal.SIGTERM
        assert [line for line in err.splitlines() if line.startswith("[interrupted]")] == [
            f"[interrupted] {job}: stopped by SIGTERM; run the same command again to resume it"]
        assert cut["status"] == "interrupted"
    else:
        assert first.returncode == -signal.SIGKILL and cut["status"] == "running"

    again = run_cli(*command(job))
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"[resume] {job}: going on from its saved tuner" in again.stdout
    record = json.loads((job / "replicate.json").read_text())
    reference = json.loads((straight / "replicate.json").read_text())
    assert record["status"] == "complete" and len(record["resumes"]) == 1
    resumed = record["resumes"][0]
    assert resumed["from"] == cut["status"] and 0 < resumed["epochs_recorded"] <= BUDGET // 2

    # no epoch trained twice, but by a trial started after the last save (forgotten, proposed again)
    after = trained(job / "tuner")
    both = at_kill | after
    twice = {(t, e) for t, e, _ in both if sum(1 for u, f, _ in both if (u, f) == (t, e)) > 1}
    assert {t for t, _ in twice} <= set(resumed["forgotten"]), sorted(twice)
    # every epoch trained over both attempts: at most 1.1 x those of the uninterrupted run
    assert len(both) <= 1.1 * len(trained(straight / "tuner")), (len(both), len(trained(straight / "tuner")))

    # the same decisions and rows as the uninterrupted run, times and memory aside
    rows, expected = (pd.read_csv(d / "results.csv") for d in (job, straight))
    same = [c for c in expected.columns if c not in TIMING]
    assert {"trial_id", "epoch", "decision", "val_acc", "hp_log_lr"} <= set(same) and set(ROW) & TIMING
    assert len(rows) == len(expected) == BUDGET
    pd.testing.assert_frame_equal(rows[same], expected[same])
    for field in ("sampled_configs", "trial_status", "rung_levels", "best_val", "best_trial_id", "n_trials"):
        assert record[field] == reference[field], field
    # the record vouches for the files it ends with
    assert record["checksums"]["results.csv"].startswith("sha256:")
