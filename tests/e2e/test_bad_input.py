"""Bad input is refused with one line and exit status 2 before anything is written."""
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, run_cli


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
    "hyperparameter the task does not take": (["+task.search_space.units={type:int,low:50,high:150}"],
                                              "search_space.units: task digits takes no hyperparameter 'units'"),
    "role the task does not take": (["task=tabular", "task.roles=[optimizer,schedule,loss,data]"],
                                    "search_space.aug_magnitude: task tabular takes no hyperparameter "
                                    "'aug_magnitude' (role 'augmentation', which task tabular does not take)"),
    "choice of mixed types": (["+task.search_space.batch_size={type:choice,choices:[16,thirty-two]}"],
                              "search_space.batch_size: the choices mix types"),
    "two names for one setting": (["+task.search_space.lr={type:float,low:0.001,high:0.1}"],
                                  "log_lr and lr both set the optimizer's lr"),
    "unknown tuner.order": (["tuner.order=sorted"], "tuner.order must be one of arrival, deterministic"),
    "deterministic not a boolean": (["deterministic=0"], "deterministic must be true or false, got 0"),
    # exp1 composes and passes every start check up to its data
    "exp1 without CIFAR-10": (["experiment=exp1", "task.root=/nonexistent/cifar", "task.download=false"],
                              "CIFAR-10 not found in /nonexistent/cifar/cifar-10-batches-py"),
    "perplexity target below 1": (["task=lm", "task.tau=0.9"], "a perplexity target is above 1"),
    "token noise outside [0, 1)": (["task=lm", "task.token_noise=1.5"], "task.token_noise must be in [0, 1)"),
    "a class subset of one class": (["task.class_subset=[3]"], "task.class_subset must be null or a list of at least two"),
    "sequence longer than the model's positions": (["task=lm", "task.seq_len=128"],
                                                   "task.seq_len=128 is above the model's positions"),
    # exp2 composes and passes every start check up to its data (no download tried from a test)
    "exp2 without WikiText": (["experiment=exp2", "task.data_dir=/nonexistent/wikitext", "task.urls=null"],
                              "WikiText-103 not found in /nonexistent/wikitext (no task.urls to download from)"),
    "planted control without a target": (["warmstart=planted", "task=tabular"],
                                          "warmstart.target: the planted control needs values to step toward"),
    "seed that is not an integer": (["seed=abc"], "seed must be an integer >= 0, got 'abc'"),
    "key that does not exist": (["budget.epoch=5"], "budget.epoch=5: no such key; did you mean budget.epochs?"),
    # a trial trains with devices=1: a second GPU would sit idle
    "several GPUs per trial": (["num_gpus_per_trial=2"], "num_gpus_per_trial=2: a trial trains on one GPU"),
    "GPU positions that are not there": (["gpus_to_use=[5]"], "gpus_to_use=[5]"),  # on any machine with < 6 GPUs
}
# GPUs asked for where none is visible (CUDA_VISIBLE_DEVICES='' hides any the machine has)
NO_GPU = {
    "device=cuda": (["device=cuda"], "device=cuda but no CUDA device is visible (CUDA_VISIBLE_DEVICES='')"),
    "gpus_to_use": (["gpus_to_use=[0]"], "gpus_to_use=[0] but no CUDA device is visible (CUDA_VISIBLE_DEVICES='')"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    """All bad-input runs of run.py, started at once (each pays the imports)."""
    runs = {}
    for name, (overrides, _) in {**BAD_INPUTS, **NO_GPU}.items():
        out = tmp_path_factory.mktemp("bad")
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""} if name in NO_GPU else None
        proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *overrides,
                                 f"hydra.run.dir={out}", f"rerun.root={out}"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[name] = (proc, out)
    return {name: (proc.communicate(timeout=300), proc.returncode, out)
            for name, (proc, out) in runs.items()}


@pytest.mark.parametrize("case", [*BAD_INPUTS, *NO_GPU])
def test_bad_input_one_line_nonzero_exit_nothing_written(case, bad_runs):
    (stdout, stderr), code, out = bad_runs[case]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    assert len(errors) == 1 and {**BAD_INPUTS, **NO_GPU}[case][1] in errors[0], stderr
    assert not (out / "replicate.json").exists() and not (out / "results.csv").exists()


@pytest.mark.parametrize("args, error", [
    (["-m", "seed=0,1,abc"], "error: seed must be an integer >= 0, got 'abc'"),
    (["warmstart=baseline,ohgw", "-m", "budget.epoch=5"], "error: budget.epoch=5: no such key; did you mean budget.epochs?"),
])
def test_a_sweep_with_a_bad_job_runs_none_of_its_jobs(args, error, tmp_path):
    proc = run_cli(*args, f"hydra.sweep.dir={tmp_path / 'sweep'}", f"rerun.root={tmp_path}")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [error], proc.stderr
    assert not any(tmp_path.iterdir())  # Hydra never started: not even the sweep's directory


@pytest.mark.parametrize("args", [["scheduler=nope"], ["-m", "warmstart=baseline,nope", "seed=0,1"]])
def test_unknown_group_option_is_one_line_listing_the_valid_ones(args, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *args, f"hydra.run.dir={tmp_path}",
                           f"hydra.sweep.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    group = args[-2 if args[0] == "-m" else 0].split("=")[0]
    assert proc.stderr.strip().splitlines() == [
        f"error: {group}=nope: no such option; {group} is one of "
        + ", ".join(sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml")))]
    assert not any(tmp_path.iterdir())


def test_a_slurm_sweep_with_a_bad_job_stops_before_queueing_any(tmp_path):
    # fails on the submitting host, so it needs no Slurm
    done = run_cli("-m", "hydra/launcher=slurm", "seed=0,1", "warmstart.eta_h=1e-3,0",
                   f"hydra.sweep.dir={tmp_path}", f"rerun.root={tmp_path}")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, done.stderr[-2000:]
    assert errors == ["error: job #1 (seed=0 warmstart.eta_h=0 rerun.root="
                      f"{tmp_path}): warmstart.eta_h must be > 0, got 0"], done.stderr[-2000:]
    assert not (tmp_path / ".submitit").exists()


def test_an_excluded_job_exits_at_once_and_records_nothing(tmp_path):
    proc = run_cli("experiment=exp2_cpu", "warmstart=ohgw", "warmstart.eta_h=3e-4", "task.token_noise=0.15",
                   f"hydra.run.dir={tmp_path / 'job'}")
    assert proc.returncode == 0, proc.stderr
    assert "[excluded] warmstart.eta_h=0.0003, task.token_noise=0.15" in proc.stdout
    assert not list(tmp_path.rglob("replicate.json")) and not list(tmp_path.rglob("results.csv"))
