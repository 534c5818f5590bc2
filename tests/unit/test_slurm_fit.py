"""The Slurm launcher's comparison of each job's budget with its time limit
(hydra_plugins/ohgw_launchers.py): the numbers, and on the real command line the one line, the
exit status and what reaches sbatch (a stand-in on PATH that records its calls; no Slurm needed)."""
import os
import stat

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from hydra_plugins.ohgw_launchers import budget_fit, fitting_timeout, node_gpus, refuses, trials_at_once
from ohgw import CONF_DIR
from tests.helpers import run_cli


def on_slurm(*overrides: str):
    """(the job's config, the launcher's settings as the launcher gets them)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=slurm", *overrides], return_hydra_config=True)
    return cfg, OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


@pytest.mark.parametrize("experiment, need, timeout", [
    ("exp1", 180, 240), ("exp1_eta", 180, 240), ("exp1_noise", 180, 240), ("exp2", 240, 300), ("exp2_eta", 240, 300)])
def test_the_studys_experiments_fit_one_allocation_on_4_gpus(experiment, need, timeout):
    cfg, params = on_slurm(f"experiment={experiment}", "hydra.launcher.gpus_per_node=4")
    fit = budget_fit(cfg, params)
    assert params["timeout_min"] == timeout and params["max_num_timeout"] > 0  # a timed-out task is requeued
    assert (fit.need_min, fit.allocations) == (need, 1) and fit.fits
    assert fitting_timeout(fit, params) <= timeout


def test_exp2_in_a_4_hour_limit_takes_two_allocations_which_requeues_cover():
    cfg, params = on_slurm("experiment=exp2", "hydra.launcher.gpus_per_node=4", "hydra.launcher.timeout_min=240")
    fit = budget_fit(cfg, params)
    # 16 device-hours / 4 = 240 min, x1.1 = 264 > 240 - 2 (submitit's signal)
    assert (fit.need_min, fit.per_allocation, fit.allocations, fit.allowed) == (240, 238, 2, 4)
    assert fitting_timeout(fit, params) == 266
    assert not refuses(fit, "auto") and not refuses(fit, "warn") and refuses(fit, "refuse")
    params["max_num_timeout"] = 0
    assert refuses(budget_fit(cfg, params), "auto")  # no requeue: the task would fail at its limit


def test_a_budget_of_epochs_or_trials_says_nothing_of_time():
    # the repository has no per-epoch time estimate: only device-hours and wall-clock are compared
    assert budget_fit(*on_slurm()) is None
    assert budget_fit(*on_slurm("budget.epochs=null", "budget.trials=5")) is None


def test_the_first_limit_reached_is_the_need():
    cfg, params = on_slurm("budget.device_hours=2", "budget.wallclock_s=1800", "n_workers=1")
    assert budget_fit(cfg, params).need_min == 30 and budget_fit(cfg, params).why == "budget.wallclock_s=1800"
    cfg, params = on_slurm("budget.device_hours=2", "budget.wallclock_s=36000", "n_workers=1")
    assert budget_fit(cfg, params).need_min == 120


def test_device_hours_are_spent_by_the_trials_at_once():
    assert [node_gpus(p) for p in ({"gpus_per_node": 4}, {"gpus_per_task": 2, "tasks_per_node": 2},
                                   {"gres": "gpu:a100:8"}, {"gres": "gpu:2"}, {"gres": "tmpdisk:100"}, {})] == [
        4, 4, 8, 2, 0, 0]
    assert trials_at_once(on_slurm()[0], 4) == 4  # one trial per GPU
    assert trials_at_once(on_slurm("gpus_to_use=[0,2]")[0], 4) == 2
    assert trials_at_once(on_slurm("n_workers=3")[0], 4) == 3
    assert trials_at_once(on_slurm()[0], 0) == 2  # CPU: runtime's default
    assert trials_at_once(on_slurm("device=cpu")[0], 4) == 2
    cfg, params = on_slurm("budget.device_hours=12", "hydra.launcher.gpus_per_node=4")
    assert budget_fit(cfg, params).why == "budget.device_hours=12 over 4 trials at once"


@pytest.fixture
def sbatch(tmp_path):
    """An sbatch on PATH that records that it was called, and fails (nothing runs), beside an srun
    that only exists: submitit refuses to start where it finds no srun, whether or not a real Slurm
    was installed on this machine by an earlier test."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "sbatch_calls"
    bin_dir.mkdir()
    for name, body in (("sbatch", f"echo \"$@\" >> {calls}\necho 'sbatch: stand-in' >&2\nexit 1\n"),
                       ("srun", "exit 1\n")):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, calls


def said(stderr: str) -> list[tuple]:
    """(the line's start, job #0's overrides in any order, its numbers) of each error or warning
    line, each about both jobs."""
    out = []
    for line in stderr.splitlines():
        if line.startswith(("error", "warning")):
            start, rest = line.split(" (", 1)
            overrides, numbers = rest.split(") and 1 more: ", 1)
            out.append((start, sorted(overrides.split()), numbers))
    return out


SWEEP = ("-m", "hydra/launcher=slurm", "seed=0,1", "n_workers=1", "budget.device_hours=1",
         "hydra.launcher.timeout_min=30")


def job0(tmp_path) -> list[str]:
    return sorted(["seed=0", "n_workers=1", "budget.device_hours=1", f"rerun.root={tmp_path}"])


NUMBERS = ("budget.device_hours=1 over 1 trial at once needs 60 min (66 with timeout_headroom=1.1), "
           "hydra.launcher.timeout_min=30 gives 28 (submitit signals 120 s before the limit): 3 allocations, ")


def test_a_budget_that_requeues_cannot_cover_is_refused_before_anything_is_queued(sbatch, tmp_path):
    env, calls = sbatch
    done = run_cli(*SWEEP, "hydra.launcher.max_num_timeout=1", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   f"rerun.root={tmp_path}", env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    assert said(done.stderr) == [("error: job #0", job0(tmp_path), NUMBERS + "max_num_timeout=1 allows 2; nothing "
                                  "queued (hydra.launcher.on_budget_over_timeout=auto): raise "
                                  "hydra.launcher.timeout_min to 68 or hydra.launcher.max_num_timeout to 2, or "
                                  "hydra.launcher.on_budget_over_timeout=warn queues it as it is")]
    assert not calls.exists() and not (tmp_path / "sweep" / ".submitit").exists()


def test_a_budget_that_requeues_cover_is_queued_with_a_warning(sbatch, tmp_path):
    env, calls = sbatch
    done = run_cli(*SWEEP, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"rerun.root={tmp_path}", env=env)
    assert said(done.stderr) == [("warning: job #0", job0(tmp_path), NUMBERS + "max_num_timeout=3 allows 4; each "
                                  "time limit requeues the task, which resumes its replicate")]
    assert len(calls.read_text().splitlines()) == 1  # the array went to sbatch (whose stand-in failed)
    assert done.returncode != 0 and "sbatch: stand-in" in done.stderr


def test_refuse_refuses_what_requeues_would_cover(sbatch, tmp_path):
    env, calls = sbatch
    done = run_cli(*SWEEP, "hydra.launcher.on_budget_over_timeout=refuse", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   f"rerun.root={tmp_path}", env=env)
    assert done.returncode == 2 and not calls.exists()
    assert [numbers.endswith("max_num_timeout=3 allows 4; nothing queued (hydra.launcher.on_budget_over_timeout="
                             "refuse): raise hydra.launcher.timeout_min to 68, or hydra.launcher.on_budget_over_timeout"
                             "=warn queues it as it is") for _, _, numbers in said(done.stderr)] == [True]
