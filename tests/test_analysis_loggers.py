"""Loggers: logger=wandb trial runs and the replicate's summary run, offline when WANDB_MODE is
unset (never asking for a key); logger=tensorboard and logger=wandb in a real replicate. The
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

from ohgw.analysis.loggers import WANDB_TARGET, wandb_trial_logger
from ohgw.analysis.summary_run import log_replicate_summary

FIXTURES = Path(__file__).parent / "fixtures" / "analysis" / "replicates"
ROOT = Path(__file__).parents[1]
pytest.importorskip("wandb")
pytestmark = pytest.mark.slow  # each test starts wandb's service process or runs a replicate


@pytest.fixture
def no_wandb_mode(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "unset-below")  # recorded, so the test's change is undone
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_SILENT", "true")


def run_file(directory: Path, *expected: bytes, timeout: float = 60.0) -> bytes:
    """The one offline run below `directory`, once it holds every expected string (or at the
    timeout): wandb's service process writes it asynchronously, even after finish() returned."""
    deadline = time.monotonic() + timeout
    while True:
        paths = list(directory.glob("wandb/offline-run-*/run-*.wandb"))
        data = paths[0].read_bytes() if len(paths) == 1 else b""
        if all(e in data for e in expected) or time.monotonic() > deadline:
            assert len(paths) == 1, paths
            return data
        time.sleep(0.5)


@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_replicate_logs_every_trial(tmp_path, logger, no_wandb_mode):
    job = tmp_path / "job"
    done = subprocess.run([sys.executable, "run.py", f"logger={logger}", "warmstart=ohgw", "budget.epochs=3",
                           "task.max_epochs=2", f"hydra.run.dir={job}", "++rerun.skip_complete=false"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reported = sorted(set(pd.read_csv(job / "results.csv")["trial_id"]))
    assert reported
    for trial in (job / "tuner" / str(t) for t in reported):
        if logger == "tensorboard":
            (events,) = trial.glob("lightning/version_0/events.out.tfevents.*")
            data = events.read_bytes()
        else:
            data = run_file(trial, b"psi/log_lr", b"val_acc")
            assert b"digits-asha-ohgw-eta0.001-seed0-" in data and f"trial-{trial.name}".encode() in data
        assert b"psi/log_lr" in data and b"x/log_lr" in data and b"val_acc" in data
    if logger == "wandb":
        assert b"replicate-summary" in run_file(job, b"replicate-summary")


def test_trial_run_is_offline_grouped_by_replicate(tmp_path, no_wandb_mode):
    trial_dir = tmp_path / "tuner" / "7"
    trial_dir.mkdir(parents=True)
    logger = wandb_trial_logger(str(trial_dir), "lightning", project="ohgw-test",
                                group="digits-asha-ohgw-seed3", job_type="ohgw")
    logger.log_hyperparams({"x/log_lr": -1.0, "psi/log_lr": -0.999})
    logger.log_metrics({"val_acc": 0.5}, step=0)
    logger.experiment.finish()
    assert os.environ["WANDB_MODE"] == "offline"
    expected = (b"digits-asha-ohgw-seed3", b"trial-7", b"psi/log_lr", b"val_acc")
    data = run_file(trial_dir, *expected)
    for e in expected:
        assert e in data, e


def test_replicate_summary_run(tmp_path, no_wandb_mode):
    job = tmp_path / "job"
    shutil.copytree(FIXTURES / "2", job)
    # a job that logged to CSV gets no summary run
    assert log_replicate_summary(job) is False
    assert not (job / "wandb").exists()
    logger = {"_target_": WANDB_TARGET, "name": "wandb", "project": "ohgw-test", "entity": None,
              "group": "digits-asha-ohgw-seed0-x", "job_type": "ohgw", "tags": []}
    record = json.loads((job / "replicate.json").read_text())
    record["config"]["logger"] = logger
    (job / "replicate.json").write_text(json.dumps(record))
    assert log_replicate_summary(job) is True
    expected = (b"digits-asha-ohgw-seed0-x-summary", b"replicate-summary", b"best_val_acc",
                b"t_epochs", b"reached_tau")
    data = run_file(job, *expected)
    for e in expected:
        assert e in data, e
