"""Loggers: the wandb runs of a replicate (one per trial and a summary), offline when WANDB_MODE
is unset (never asking for a key); logger=tensorboard and logger=wandb in a real replicate. The
offline .wandb files are binary protobuf records; the names and keys we set are stored in them
verbatim."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ohgw.trial.loggers import WANDB_TARGET
from ohgw.analysis.wandb_runs import log_replicate_runs
from tests.helpers import RESULTS_V1, ROOT
from tests.wandb_files import job_runs

FIXTURES = RESULTS_V1

pytest.importorskip("wandb")
pytestmark = pytest.mark.slow  # each test starts wandb's service process or runs a replicate


@pytest.fixture
def no_wandb_mode(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "unset-below")  # recorded, so the test's change is undone
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_SILENT", "true")


def run_files(job: Path, count: int, marker: bytes, timeout: float = 60.0) -> list[bytes]:
    """The job's offline run files, once `count` of them hold `marker` (or at the timeout):
    wandb's service process writes them asynchronously, even after finish() returned."""
    deadline = time.monotonic() + timeout
    while True:
        data = [p.read_bytes() for p in job.glob("wandb/offline-run-*/run-*.wandb")]
        if sum(marker in d for d in data) >= count or time.monotonic() > deadline:
            assert sum(marker in d for d in data) == count, len(data)
            return data
        time.sleep(0.5)


WANDB = {"_target_": WANDB_TARGET, "name": "wandb", "project": "ohgw-test", "entity": None,
         "group": "digits-asha-ohgw-seed0-x", "job_type": "ohgw", "tags": []}


def test_replicate_runs_offline_one_per_trial_and_a_summary(tmp_path, no_wandb_mode):
    job = tmp_path / "job"
    shutil.copytree(FIXTURES / "2", job)
    assert log_replicate_runs(job, {"_target_": "lightning.pytorch.loggers.CSVLogger"}) == 0  # no wandb asked
    assert not (job / "wandb").exists()
    trial_ids = sorted(set(pd.read_csv(job / "results.csv")["trial_id"]))
    assert log_replicate_runs(job, WANDB) == len(trial_ids) + 1
    assert os.environ["WANDB_MODE"] == "offline"
    runs = run_files(job, len(trial_ids) + 1, b"digits-asha-ohgw-seed0-x")
    summary = [d for d in runs if b"replicate-summary" in d]
    assert len(summary) == 1 and b"best_val_acc" in summary[0] and b"reached_tau" in summary[0]
    for trial_id in trial_ids:
        (data,) = [d for d in runs if f"trial-{trial_id}".encode() in d]
        for expected in (b"psi/log_lr", b"x/log_lr", b"hg/log_lr", b"val_acc", b"test_acc"):
            assert expected in data, (trial_id, expected)


def test_replicate_with_tensorboard(tmp_path):
    job = tmp_path / "job"
    done = subprocess.run([sys.executable, "run.py", "logger=tensorboard", "warmstart=ohgw", "budget.epochs=3",
                           "task.max_epochs=2", f"hydra.run.dir={job}", "++rerun.skip_complete=false"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = sorted(set(pd.read_csv(job / "results.csv")["trial_id"]))
    assert reported
    for trial in reported:
        (events,) = (job / "tuner" / str(trial)).glob("lightning/version_0/events.out.tfevents.*")
        data = events.read_bytes()
        assert b"psi/log_lr" in data and b"x/log_lr" in data and b"val_acc" in data
    assert done.stdout.strip().splitlines()[-1].startswith("  results: ")


def test_replicate_with_wandb_a_live_run_and_the_per_trial_runs(tmp_path, no_wandb_mode):
    job = tmp_path / "job"
    # deterministic order: the same decisions at every run, among them stops (trials SIGKILLed)
    done = subprocess.run([sys.executable, "run.py", "logger=wandb", "warmstart=ohgw", "budget.epochs=8",
                           "tuner.order=deterministic", f"hydra.run.dir={job}", f"rerun.root={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = pd.read_csv(job / "results.csv")
    record = json.loads((job / "replicate.json").read_text())
    assert (results["decision"] == "STOP").any()
    reported = sorted(set(results["trial_id"]))
    runs = job_runs(job, len(reported) + 2)
    # the live run: every report the tuner received, in the order results.csv holds them
    (live,) = [r for r in runs if "live" in r.tags]
    assert (live.group, live.job_type, live.name) == (f"digits-asha-{record['comparison'][:8]}", "ohgw-eta0.001",
                                                      "ohgw-eta0.001-seed0")
    assert {k: live.config[k] for k in ("task", "scheduler", "warmstart", "eta_h", "variant", "seed", "key")} == {
        "task": "digits", "scheduler": "asha", "warmstart": "ohgw", "eta_h": 0.001, "variant": "ohgw-eta0.001",
        "seed": 0, "key": record["key"]}
    assert len(live.history) == len(results)
    best = results["val_acc"].cummax()
    for i, (step, row) in enumerate(zip(live.history, results.itertuples())):
        assert (step["epochs"], step["trial_id"], step["epoch"]) == (i + 1, row.trial_id, row.epoch)
        assert step["val_acc"] == pytest.approx(row.val_acc) and step["test_acc"] == pytest.approx(row.test_acc)
        assert step["best_val_acc"] == pytest.approx(best[i])
    assert live.summary["best_val_acc"] == pytest.approx(record["best_val"]) and live.summary["reports"] == len(results)
    # the complete record, written when the job ended: a run per trial and a summary run
    posthoc = [r for r in runs if "live" not in r.tags]
    assert sorted(r.name for r in posthoc) == sorted([f"trial-{t}" for t in reported] + ["summary"])
    assert all(r.job_type == "ohgw" and r.group.startswith("digits-asha-ohgw-eta0.001-seed0-") for r in posthoc)
    # the summary stays the last thing printed, and wandb says nothing
    assert done.stdout.strip().splitlines()[-1].startswith("  results: ")
    assert not [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("wandb:")]


def test_wandb_after_a_csv_run_of_the_same_replicate_writes_its_runs(tmp_path, no_wandb_mode):
    common = ["warmstart=ohgw", "budget.epochs=3", "task.max_epochs=2", f"rerun.root={tmp_path}"]
    first = subprocess.run([sys.executable, "run.py", *common, f"hydra.run.dir={tmp_path}/csv"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    again = subprocess.run([sys.executable, "run.py", *common, "logger=wandb", f"hydra.run.dir={tmp_path}/wandb"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    # reused (the logger does not change results), and it says where the results are
    assert "[skipped]" in again.stdout and f"results: {(tmp_path / 'csv').resolve()} (reused" in again.stdout
    reported = sorted(set(pd.read_csv(tmp_path / "csv" / "results.csv")["trial_id"]))
    runs = run_files(tmp_path / "wandb", len(reported) + 1, b"digits-asha-ohgw-eta0.001-seed0-")
    assert sum(b"replicate-summary" in d for d in runs) == 1
