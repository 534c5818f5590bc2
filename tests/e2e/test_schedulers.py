"""Every scheduler of the study runs a real replicate on digits (Syne Tune's own classes,
real trials with pause/resume checkpointing), and bad scheduler/rung/budget input is
refused before any trial starts."""
import json

import pandas as pd
import pytest

from ohgw import CONF_DIR
from ohgw.errors import ConfigError
from ohgw.analysis.latency import latencies
from ohgw.tuner.replicate import prepare, run_replicate
from tests.auxnet_records import MIXED as AUX_NET, TRAIN_FROM as AUX_NET_RECORDS
from tests.helpers import compose_config, run_cli
from tests.transfer_records import TRANSFER_BO

SCHEDULERS = sorted(p.stem for p in (CONF_DIR / "scheduler").glob("*.yaml"))
PAUSE_RESUME = {"asha_promotion", "pasha", "dyhpo", "hyperband"}
FAST = {"asha", "asha_promotion"}
# rungs 1, 2, 4 below max_epochs 5: every scheduler (PASHA needs three) fits in a small budget
SMALL = ("task.max_epochs=5", "task.rungs.reduction_factor=2", "budget.epochs=10", "n_workers=2")
# DyHPO's model prefers new trials to paused ones early on; more SH-rule promotions let a
# small budget see a resume. Synchronous Hyperband promotes only once its bracket's whole first
# rung has reported: 10 epochs sometimes left no room for a resume. ASHA's test reads stops: 10
# epochs can go to the first two trials running side by side to max_epochs, stopping none.
EXTRA = {"dyhpo": ("scheduler.args.probability_sh=0.6",),
         "aux_net": (*AUX_NET, AUX_NET_RECORDS),  # breast_cancer: what its real earlier records fit
         "transfer_bo": TRANSFER_BO}  # meta_bo's class subset and space: what its real earlier records fit
EPOCHS = {"hyperband": 20, "asha": 20}  # epoch budget where SMALL's 10 is not enough


def replicate(tmp_path, *overrides):
    """Run one replicate in this process; its records, searched for reruns under tmp_path only."""
    cfg = compose_config(*SMALL, f"rerun.root={tmp_path}", *overrides)
    job = tmp_path / "job"
    record = run_replicate(cfg, job)
    return record, pd.read_csv(job / "results.csv"), json.loads((job / "replicate.json").read_text())


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow)
                                  for n in SCHEDULERS])
def test_scheduler_runs_a_replicate_on_digits(name, tmp_path):
    budget = EPOCHS.get(name, 10)
    record, results, on_disk = replicate(tmp_path, f"scheduler={name}", "warmstart=baseline",
                                         f"budget.epochs={budget}", *EXTRA.get(name, ()))
    assert on_disk["status"] == "complete" and on_disk["scheduler"] == name
    assert on_disk["budget"]["epochs"] == budget and on_disk["budget_used"]["epochs"] >= budget
    for field in ("config", "seed", "warmstart", "task", "best_val", "test_of_best", "wallclock_s",
                  "n_trials", "sampled_configs", "key", "comparison"):
        assert on_disk[field] is not None, field
    assert 0.0 <= on_disk["best_val"] <= 1.0
    for column in ("trial_id", "epoch", "val_acc", "val_loss", "test_acc", "train_s", "hp_log_lr"):
        assert results[column].notna().all(), column
    # a trial never reports an epoch twice: a resumed trial continues from its checkpoint
    assert not results.duplicated(["trial_id", "epoch"]).any()
    assert results.groupby("trial_id")["epoch"].apply(lambda e: list(e) == list(range(1, len(e) + 1))).all()
    if name == "asha":  # the latency tool reads every stop (its figures: README, not a timed test)
        stops, epoch_s = latencies(tmp_path / "job")
        stopped = results.loc[results["decision"] == "STOP", "trial_id"].unique()
        assert len(stops) and set(stops["trial_id"]) <= set(stopped), (stops, stopped)
        assert stops["latency_s"].notna().all() and epoch_s > 0
    if name in PAUSE_RESUME:
        paused = results[results["decision"] == "PAUSE"]
        resumed = [t for t, e in zip(paused["trial_id"], paused["epoch"])
                   if ((results["trial_id"] == t) & (results["epoch"] == e + 1)).any()]
        assert resumed, f"{name}: no paused trial was resumed within the budget"


def bad(*overrides):
    with pytest.raises(ConfigError) as err:
        prepare(compose_config(*overrides), CONF_DIR.parent / "outputs" / "never-written")
    assert not (CONF_DIR.parent / "outputs" / "never-written").exists()
    return str(err.value)


def test_grid_on_a_continuous_space_without_discretisation():
    assert "discretised space" in bad("scheduler=grid", "scheduler.grid_points=null")


def test_grid_takes_points_per_dimension():
    from ohgw.tasks import build
    from ohgw.tuner.schedulers import make_scheduler

    cfg = compose_config("scheduler=grid", "scheduler.grid_points=2",
                         "+task.search_space.log_lr.grid_points=3")
    scheduler = make_scheduler(cfg.scheduler, build(cfg.task), 0, {})
    suggested = [scheduler.suggest(i).config for i in range(3 * 2 ** 4)]
    assert len({round(c["log_lr"], 6) for c in suggested}) == 3
    assert len({round(c["momentum"], 6) for c in suggested}) == 2
    assert len({tuple(sorted(c.items())) for c in suggested}) == 3 * 2 ** 4  # the whole grid, once
    assert scheduler.suggest(99) is None


@pytest.mark.parametrize("overrides, says", [
    (("scheduler=asha", "task.rungs.grace_period=9"), "grace_period=9"),
    (("scheduler=asha_promotion", "task.max_epochs=3", "task.rungs.grace_period=5"), "grace_period=5"),
    (("scheduler=asha", "+task.rungs.rung_levels=[1,3,27]"), "exceed task.max_epochs=9"),
    (("scheduler=hyperband", "task.rungs.reduction_factor=1.5"), "reduction_factor"),
    (("scheduler=pasha", "+task.rungs.pasha_reduction_factor=3"), "needs 3 rungs"),
    (("scheduler=asha", "task.rungs.grace_period=3", "budget.epochs=2"), "smaller than one rung"),
    (("scheduler=random", "budget.epochs=5"), "smaller than one rung"),
    (("scheduler=asha", "+scheduler.args.no_such_option=1"), "scheduler asha"),
    (("scheduler=asha", "+scheduler.no_such_option=1"), "unknown key(s) ['no_such_option']"),
])
def test_bad_rungs_and_budgets_fail_before_any_trial(overrides, says):
    assert says in bad(*overrides)


def test_bad_input_from_the_command_line_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("scheduler=asha", "task.rungs.grace_period=9", f"hydra.run.dir={tmp_path}/job")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: scheduler asha: grace_period=9")
    assert not (tmp_path / "job" / "replicate.json").exists()
