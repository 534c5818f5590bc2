"""One replicate end to end on digits, through the real CLI, Syne Tune and Lightning."""
import json

import pandas as pd
import pytest

from ohgw.results import contract
from tests.helpers import run_cli

HP = ["log_lr", "log_wd", "momentum", "label_smoothing", "aug_magnitude"]


def test_default_replicate_end_to_end(tmp_path):
    proc = run_cli("budget.epochs=12", "task.max_epochs=3", f"hydra.run.dir={tmp_path}",
                   f"rerun.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[complete] digits / asha / ohgw seed 0" in proc.stdout

    frame = pd.read_csv(tmp_path / "results.csv")
    record = json.loads((tmp_path / "replicate.json").read_text())
    assert record["status"] == "complete" and record["error"] is None
    assert (record["task"], record["scheduler"], record["warmstart"], record["seed"]) == \
        ("digits", "asha", "ohgw", 0)
    # the budget: epochs consumed, overshooting by at most what running trials add
    assert 12 <= len(frame) <= 12 + 2 * 3
    assert record["budget_used"]["epochs"] == len(frame)
    # trials started when the budget ran out may not have reported yet
    assert record["n_trials"] >= frame.trial_id.nunique() >= 2
    assert frame.epoch.between(1, 3).all()
    assert frame.groupby("trial_id").epoch.apply(lambda e: list(e) == list(range(1, len(e) + 1))).all()
    # 10 classes: chance is 0.1; a few epochs of a small CNN do far better
    assert record["best_val"] == pytest.approx(frame.val_acc.max()) and record["best_val"] > 0.5
    best = frame.loc[frame.val_acc.idxmax()]
    assert record["test_of_best"] == pytest.approx(best.test_acc)
    # sampled x, adjusted psi', hyper-gradient and warm-start cost on every row
    for name in HP:
        assert frame[f"hp_{name}"].notna().all() and frame[f"hg_{name}"].notna().all()
    assert (frame.ws_status == "applied").all() and (frame.ws_flops > 0).all()
    assert (frame.psi_log_lr != frame.hp_log_lr).any()
    sampled = [c["trial_id"] for c in record["sampled_configs"]]
    assert sampled == list(range(record["n_trials"])) and set(frame.trial_id) <= set(sampled)
    assert record["config"]["warmstart"]["name"] == "ohgw"
    # everything on disk is a field of the results contract, with its schema version and origin
    assert [c for c in frame.columns if not contract.describe(c)] == []
    assert set(record) <= set(contract.RECORD) and record["schema_version"] == contract.SCHEMA_VERSION
    assert record["git_commit"] != "unknown" and record["versions"]["syne-tune"] == "0.13.0"
    # quiet: no banner of Syne Tune's missing extras; the summary is the last thing printed
    assert "dependencies are missing" not in proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"  results: {tmp_path}"


def test_a_tasks_default_budget_leaves_the_scheduler_decisions_to_make(tmp_path):
    proc = run_cli("task=tabular", f"hydra.run.dir={tmp_path}", f"rerun.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / "replicate.json").read_text())
    frame = pd.read_csv(tmp_path / "results.csv")
    assert record["budget"]["epochs"] == 120  # the task's default
    assert (frame.decision == "STOP").sum() >= 3 and frame.trial_id.nunique() >= 6
    # the budget counts what results.csv holds; anything beyond it is recorded, with why
    over = record.get("budget_overshoot", {"epochs": 0, "why": "none"})
    assert len(frame) == 120 + over["epochs"] and over["why"]
    assert record["budget_used"]["device_s"] > 0 and record["wallclock_s"] > 0


@pytest.mark.slow
def test_basic_launcher_multirun_over_seeds(tmp_path):
    proc = run_cli("-m", "warmstart=baseline", "seed=0,1,2", "budget.epochs=6", "task.max_epochs=3",
                   f"hydra.sweep.dir={tmp_path}", f"rerun.root={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads((tmp_path / str(i) / "replicate.json").read_text()) for i in range(3)]
    assert [r["seed"] for r in records] == [0, 1, 2]
    assert all(r["status"] == "complete" and r["warmstart"] == "baseline" for r in records)
    # Syne Tune's searchers start every seed at the midpoint, then each seed samples its own
    assert {r["sampled_configs"][0]["log_lr"] for r in records} == {-1.5}
    assert len({r["sampled_configs"][1]["log_lr"] for r in records}) == 3
    # the jobs ran in one process and shared one fork server, started once
    assert records[0]["config"]["launcher"] == "fork" and proc.stderr.count("[forkserver] ready") == 1
