"""tuner.order=deterministic: the scheduler sees reports in virtual-clock order, so the same
replicate run twice makes the same decisions with the same metrics, and a variant that changes
nothing (eta_h below float resolution) makes the baseline's decisions, with two workers."""
import json

import pandas as pd
import pytest

from tests.helpers import run_cli

# what a trial computes; timing columns (wallclock_s, elapsed_s, train_s, ws_seconds, ...) aside
METRICS = ["trial_id", "epoch", "decision", "val_acc", "val_loss", "test_acc", "test_loss", "train_loss",
           "train_steps"]


def replicate(job, *overrides):
    done = run_cli("tuner.order=deterministic", "n_workers=2", "budget.epochs=24", *overrides,
                   f"hydra.run.dir={job}", f"rerun.root={job}")
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((job / "replicate.json").read_text())
    return record, pd.read_csv(job / "results.csv")


@pytest.mark.parametrize("scheduler", ["asha", pytest.param("asha_promotion", marks=pytest.mark.slow)])
def test_the_same_replicate_run_twice_makes_the_same_decisions(scheduler, tmp_path):
    (first, a), (second, b) = (replicate(tmp_path / name, f"scheduler={scheduler}") for name in ("a", "b"))
    assert first["sampled_configs"] == second["sampled_configs"]
    pd.testing.assert_frame_equal(a[METRICS + ["psi_log_lr", "hg_log_lr"]], b[METRICS + ["psi_log_lr", "hg_log_lr"]])
    assert first["trial_status"] == second["trial_status"]
    assert (a["decision"] != "CONTINUE").any()  # the scheduler had decisions to make


def test_a_variant_that_moves_nothing_makes_the_baselines_decisions(tmp_path):
    base, a = replicate(tmp_path / "base", "warmstart=baseline")
    tiny, b = replicate(tmp_path / "tiny", "warmstart=ohgw", "warmstart.eta_h=1e-12")
    assert base["sampled_configs"] == tiny["sampled_configs"] and base["trial_status"] == tiny["trial_status"]
    pd.testing.assert_frame_equal(a[METRICS], b[METRICS])
    assert (b["ws_status"] == "applied").all()  # it did run the warm-start
