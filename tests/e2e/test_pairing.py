"""Seed pairing, the premise of the paired statistics: for one replicate seed every
warm-start variant gets the same sampled configurations and trial k the same seed; and
reruns skip what is complete and redo what is not."""
import json

import pandas as pd
import pytest

from ohgw import CONF_DIR
from ohgw.tasks import build
from ohgw.tuner.replicate import run_replicate
from ohgw.tuner.rerun import RECORD, SKIPPED, comparison_key, replicate_key
from ohgw.tuner.schedulers import make_scheduler
from tests.auxnet_records import MIXED as AUX_NET, TRAIN_FROM as AUX_NET_RECORDS
from tests.helpers import compose_config, run_cli
from tests.transfer_records import TRANSFER_BO

SCHEDULERS = sorted(p.stem for p in (CONF_DIR / "scheduler").glob("*.yaml"))
N = 3  # trials compared end to end
# schedulers that learn from earlier records: real records and the task and space they fit
LEARNING = {"aux_net": (*AUX_NET, AUX_NET_RECORDS), "transfer_bo": TRANSFER_BO}


def suggestions(seed: int, *overrides, n=8) -> list[dict]:
    cfg = compose_config(f"seed={seed}", *overrides)
    scheduler = make_scheduler(cfg.scheduler, build(cfg.task), seed, {})
    return [scheduler.suggest(i).config for i in range(n)]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_every_scheduler_samples_the_same_configurations_in_every_variant(name):
    # before any result, model-based schedulers draw their initial random configurations
    on = (f"scheduler={name}", *LEARNING.get(name, ()))
    baseline = suggestions(7, *on, "warmstart=baseline")
    assert suggestions(7, *on, "warmstart=ohgw", "warmstart.eta_h=3e-3") == baseline
    assert suggestions(7, *on, "warmstart=random") == baseline
    assert suggestions(8, *on, "warmstart=baseline") != baseline


def replicate(tmp_path, name, *overrides):
    cfg = compose_config("task.max_epochs=2", "budget.trials=3", "budget.epochs=null", "n_workers=3",
                         "seed=5", f"rerun.root={tmp_path}", *overrides)
    run_replicate(cfg, tmp_path / name)
    return json.loads((tmp_path / name / RECORD).read_text()), pd.read_csv(tmp_path / name / "results.csv")


@pytest.mark.parametrize("scheduler", ["asha", pytest.param("random", marks=pytest.mark.slow)])
def test_baseline_and_ohgw_replicates_are_paired(scheduler, tmp_path):
    # eta_h = 1e-12: the OHGW trial computes its hyper-gradient but moves by less than float32
    # resolves, so trial k must train exactly like baseline trial k (same init, data order, draws)
    base, base_rows = replicate(tmp_path, "baseline", f"scheduler={scheduler}", "warmstart=baseline")
    ohgw, ohgw_rows = replicate(tmp_path, "ohgw", f"scheduler={scheduler}", "warmstart=ohgw",
                                "warmstart.eta_h=1e-12")
    assert base["status"] == ohgw["status"] == "complete"
    assert len(base["sampled_configs"]) >= N
    assert base["sampled_configs"][:N] == ohgw["sampled_configs"][:N]
    assert base["comparison"] == ohgw["comparison"] and base["key"] != ohgw["key"]
    assert base["budget"] == ohgw["budget"]
    assert base["eta_h"] is None and ohgw["eta_h"] == 1e-12  # no step size where none applies
    first = ["trial_id", "epoch"]
    paired = base_rows[base_rows.trial_id < N].merge(ohgw_rows[ohgw_rows.trial_id < N], on=first)
    assert len(paired) >= N and (ohgw_rows["hg_log_lr"].abs() > 0).any()
    for metric in ("val_loss", "train_loss", "test_acc"):
        assert paired[f"{metric}_x"].tolist() == paired[f"{metric}_y"].tolist(), metric


def test_replicate_key_ignores_where_results_go_and_nothing_else():
    key = replicate_key(compose_config())
    assert replicate_key(compose_config("rerun.root=/elsewhere", "logger=tensorboard",
                                        "hydra.sweep.dir=/x")) == key
    # how often the tuner is saved, what the terminal shows, how the analysis judges: not results either
    assert replicate_key(compose_config("tuner.save_every_s=30", "terminal.progress=false")) == key
    judged = replicate_key(compose_config("experiment=noise_floor"))
    assert replicate_key(compose_config("experiment=noise_floor", "protocol.alpha=0.01")) == judged
    for changed in ("seed=1", "budget.epochs=41", "warmstart=baseline", "task.max_epochs=8",
                    "scheduler=pasha", "n_workers=3"):
        assert replicate_key(compose_config(changed)) != key, changed
    assert comparison_key(compose_config("seed=3", "warmstart=baseline")) == comparison_key(compose_config())
    assert comparison_key(compose_config("budget.epochs=41")) != comparison_key(compose_config())


@pytest.mark.slow
def test_a_rerun_skips_complete_replicates_and_redoes_the_others(tmp_path):
    sweep = ("-m", "seed=0,1", "warmstart=baseline,ohgw", "scheduler=random", "task.max_epochs=1", "budget.trials=1",
             "budget.epochs=null", "n_workers=1", f"rerun.root={tmp_path}")
    first = run_cli(*sweep, f"hydra.sweep.dir={tmp_path}/first")
    assert first.returncode == 0, first.stderr
    records = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "first").glob("*/" + RECORD)}
    assert len(records) == 4 and all(r["status"] == "complete" for r in records.values())
    # job 1 failed, job 2 was killed while running, before its tuner's first save (a resumable
    # one is tests/e2e/test_resume.py's)
    for job, status in (("1", "failed"), ("2", "running")):
        (tmp_path / "first" / job / RECORD).write_text(json.dumps({**records[job], "status": status}))
    (tmp_path / "first" / "2" / "tuner" / "tuner.dill").unlink()
    second = run_cli(*sweep, f"hydra.sweep.dir={tmp_path}/second")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("[skipped]") == 2
    for job in ("0", "3"):  # the summary points at the reused replicate, not at skipped.json
        assert f"results: {(tmp_path / 'first' / job).resolve()} (reused" in second.stdout
    for job in ("0", "3"):
        skipped = json.loads((tmp_path / "second" / job / SKIPPED).read_text())
        assert skipped["at"] == str((tmp_path / "first" / job).resolve()) and skipped["why"] == "complete"
        assert not (tmp_path / "second" / job / RECORD).exists()
    for job in ("1", "2"):
        redone = json.loads((tmp_path / "second" / job / RECORD).read_text())
        assert redone["status"] == "complete" and redone["key"] == records[job]["key"]
        assert redone["replaces"] == [str(tmp_path / "first" / job)]
    third = run_cli(*sweep, f"hydra.sweep.dir={tmp_path}/third")
    assert third.stdout.count("[skipped]") == 4


def test_a_job_run_again_in_its_own_directory_keeps_a_complete_replicate_and_redoes_a_killed_one(tmp_path):
    # what a Slurm task requeued after a preemption finds: its own earlier attempt
    from ohgw.analysis.collect import collect

    cfg = compose_config("scheduler=random", "task.max_epochs=1", "budget.trials=1", "budget.epochs=null",
                         "n_workers=1", f"rerun.root={tmp_path}")
    job = tmp_path / "job"
    first = run_replicate(cfg, job)
    assert run_replicate(cfg, job)["started_at"] == first["started_at"]  # complete: kept, not redone
    killed = {**first, "status": "running"}  # before its tuner's first save: nothing to resume from
    (job / RECORD).write_text(json.dumps(killed))
    (job / "tuner" / "tuner.dill").unlink()
    redone = run_replicate(cfg, job)
    attempt = job / "attempts" / "1"
    assert redone["status"] == "complete" and redone["replaces"] == [str(attempt)]
    assert json.loads((attempt / RECORD).read_text()) == killed
    before, after = (pd.read_csv(d / "results.csv") for d in (attempt, job))
    assert before["val_loss"].tolist() == after["val_loss"].tolist()  # the same replicate, redone
    assert (attempt / "tuner" / "0").is_dir() and (job / "tuner" / "0").is_dir()
    collection = collect([tmp_path])
    assert [r.path for r in collection.replicates] == [job]
    assert collection.excluded == [(attempt, f"superseded by {job}")]
