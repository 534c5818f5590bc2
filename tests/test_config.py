"""Every option of every config group composes and builds; bad input is refused with one
line and a non-zero exit before anything is written."""
import datetime as dt
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from ohgw.config import instantiate

from ohgw import CONF_DIR
from ohgw.tasks import build
from ohgw.trial import trial_logger
from ohgw.tuning.schedulers import make_scheduler
from tests.helpers import ROOT, compose_config, run_cli

GROUPS = ("task", "scheduler", "warmstart", "logger", "experiment")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize("group, option", OPTIONS)
def test_every_option_composes_and_builds(group, option, tmp_path):
    cfg = compose_config(f"{group}={option}")
    if group != "experiment":
        assert cfg[group].name == option
    task = build(cfg.task)
    variant = instantiate(cfg.warmstart)
    variant.targets(task.space)
    scheduler = make_scheduler(cfg.scheduler, task, seed=0, extra_config={})
    assert scheduler.metric == task.metric
    assert trial_logger(cfg.logger, tmp_path / "0") is not None


def test_default_composition():
    cfg = compose_config()
    assert (cfg.task.name, cfg.scheduler.name, cfg.warmstart.name) == ("digits", "asha", "ohgw")
    assert cfg.warmstart.eta_h == 1e-3 and cfg.warmstart.steps == 1


def test_multirun_directory_is_unique_per_launch():
    def sweep_dir():
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", return_hydra_config=True).hydra.sweep.dir

    first, second = sweep_dir(), sweep_dir()
    assert first != second  # microseconds: Hydra's default has 1-second resolution
    dt.datetime.strptime(first.split("multirun/")[1], "%Y-%m-%d/%H-%M-%S.%f")


BAD_INPUTS = {
    "zero budget": (["budget.epochs=0"], "budget.epochs must be > 0"),
    "negative budget": (["budget.wallclock_s=-5"], "budget.wallclock_s must be > 0"),
    "no budget": (["budget.epochs=null"], "set at least one of"),
    "tau outside [0,1]": (["task.tau=1.5"], "task.tau must be a score in [0, 1]"),
    "no workers": (["n_workers=0"], "n_workers must be an integer >= 1"),
    "inverted bound": (["task.search_space.log_lr.low=1.0"], "log_lr: bounds inverted"),
    "missing data": (["task=fashion_mnist", "task.data_dir=/nonexistent"],
                     "apt-get install dataset-fashion-mnist"),
    "eta_h <= 0": (["warmstart.eta_h=0"], "eta_h must be > 0"),
    "steps < 1": (["warmstart.steps=0"], "steps must be an integer >= 1"),
    "unknown mask": (["warmstart.mask=[lr]"], "unknown hyperparameter"),
    "unknown optimizer": (["task.optimizer=adam"], "task.optimizer must be one of sgd, adamw"),
    "missing fortunes": (["task=fortunes", "task.data_dir=/nonexistent"], "apt-get install fortunes"),
    "missing python docs": (["task=python_docs", "task.data_dir=/nonexistent"], "apt-get install python3-doc"),
    "unknown tabular data set": (["task=tabular", "task.dataset=titanic"], "task.dataset must be one of"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """All bad-input runs of run.py, started at once (each pays the imports)."""
    runs = {}
    for name, (overrides, _) in BAD_INPUTS.items():
        out = tmp_path_factory.mktemp("bad")
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *overrides,
                                 f"hydra.run.dir={out}", f"rerun.root={out}"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[name] = (proc, out)
    return {name: (proc.communicate(timeout=300), proc.returncode, out)
            for name, (proc, out) in runs.items()}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_one_line_nonzero_exit_nothing_written(case, bad_runs):
    (stdout, stderr), code, out = bad_runs[case]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    assert len(errors) == 1 and BAD_INPUTS[case][1] in errors[0], stderr
    assert not (out / "replicate.json").exists() and not (out / "results.csv").exists()


def test_unknown_group_option_lists_the_valid_ones(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "scheduler=nope",
                           f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Could not find 'scheduler/nope'" in proc.stderr and "pasha" in proc.stderr
    assert not (tmp_path / "replicate.json").exists()


def test_a_slurm_sweep_with_a_bad_job_stops_before_queueing_any(tmp_path):
    # fails on the submitting host, so it needs no Slurm
    done = run_cli("-m", "hydra/launcher=slurm", "seed=0,1", "warmstart.eta_h=1e-3,0",
                   f"hydra.sweep.dir={tmp_path}", f"rerun.root={tmp_path}")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert errors == ["error: job #1 (seed=0 warmstart.eta_h=0 rerun.root="
                      f"{tmp_path}): warmstart.eta_h must be > 0, got 0"], done.stderr[-2000:]
    assert not (tmp_path / ".submitit").exists()
